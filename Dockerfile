FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/app/var
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY digest ./digest
COPY accounts ./accounts
RUN pip install --no-cache-dir .
COPY . .
RUN useradd --create-home paperwire && mkdir -p var && chown paperwire var
USER paperwire
RUN DEBUG=true python manage.py collectstatic --no-input -v 0
EXPOSE 8000
# The logger class keeps emailed-link tokens out of the access log.
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-", "--logger-class", "accounts.redact.GunicornLogger"]
