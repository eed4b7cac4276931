FROM python:3.11-slim
# DEBUG is off unless the environment turns it on; start-up then needs a real SECRET_KEY.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/app/var DEBUG=false
WORKDIR /app
# The locked versions first (a layer rebuilt only when the lock changes), then Paperwire.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY config ./config
COPY digest ./digest
COPY accounts ./accounts
RUN pip install --no-cache-dir --no-deps .
# .dockerignore keeps .env, var/ (the SQLite database, the admin password file),
# .venv/ and .git/ out of this copy.
COPY . .
RUN useradd --create-home paperwire && mkdir -p var && chown paperwire var
USER paperwire
# A throwaway key for this one command: settings refuse to start without one.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --no-input -v 0
EXPOSE 8000
# The logger class keeps emailed-link tokens out of the access log.
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-", "--logger-class", "accounts.redact.GunicornLogger"]
