from __future__ import annotations

import datetime as dt
from typing import ClassVar

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts import schedule
from digest.models import EmailEvent


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def _create(self, email: str, password: str | None, **fields) -> User:
        if not email:
            raise ValueError("Staff users need an email address")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class User(AbstractUser):
    """A staff login. Subscribers are not users: they never get a password."""

    username = None  # type: ignore[assignment]  # Django's way to drop an inherited field
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # Keyed by email: the stubs expect contrib.auth's username-keyed UserManager here.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)


# The most papers one email may carry. Gmail clips a message past about 100 KB of HTML
# ("[Message clipped]", hiding the rest and the unsubscribe footer) and a digest weighs
# about 3.5 KB a paper (40 KB for 10), so 25 papers stay well under the limit.
MAX_PAPERS = 25
# Said the same way by the signup and preference forms and the admin.
TOO_FEW_PAPERS = "At least one paper per email."
TOO_MANY_PAPERS = f"At most {MAX_PAPERS} (Gmail cuts a longer email short)."


def topic_lines(text: str) -> list[str]:
    """Typed topics, one per line: each line stripped, blank ones dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


class SubscriberQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Subscriber.Status.ACTIVE)

    def due(self, now=None):
        return self.active().filter(next_send_at__lte=now or timezone.now())

    def unconfirmed_for(self, days: int, now: dt.datetime | None = None) -> SubscriberQuerySet:
        """Still pending ``days`` after signing up and after their last confirmation email
        (a fresh link asked for yesterday must keep working)."""
        cutoff = (now or timezone.now()) - dt.timedelta(days=days)
        return self.filter(status=Subscriber.Status.PENDING, created_at__lte=cutoff).filter(
            models.Q(confirmation_sent_at__isnull=True) | models.Q(confirmation_sent_at__lte=cutoff)
        )

    def erase(self) -> int:
        """Delete these subscribers, everything hanging off them (digests, feedback,
        consents) and the provider's events about their mail, which hold the address;
        return how many subscribers went.

        Suppressions are kept, so a bounced or complaining address is never mailed again;
        one pointing at a deleted event only loses that link (``on_delete=SET_NULL``)."""
        with transaction.atomic():
            EmailEvent.objects.about(self).delete()
            return self.delete()[1].get(Subscriber._meta.label, 0)


class Subscriber(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        SUPPRESSED = "suppressed", "Suppressed (bounce or complaint)"

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    email = models.EmailField(unique=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    topics = models.ManyToManyField("digest.Topic", blank=True, related_name="subscribers")
    own_topics = models.TextField(
        blank=True, help_text="Topics the subscriber typed, one per line, in the topic language."
    )
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    send_hour = models.PositiveSmallIntegerField(default=7, help_text="Local hour, 0 to 23.")
    time_zone = models.CharField(max_length=64, default="UTC")
    max_papers = models.PositiveSmallIntegerField(
        default=10,
        validators=[
            MinValueValidator(1, message=TOO_FEW_PAPERS),
            MaxValueValidator(MAX_PAPERS, message=TOO_MANY_PAPERS),
        ],
        help_text=f"Most papers per email, 1 to {MAX_PAPERS} (Gmail clips longer emails).",
    )
    min_score = models.FloatField(default=0.0)
    next_send_at = models.DateTimeField(null=True, blank=True, db_index=True)

    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    # Bumped whenever a single-use link is spent, which invalidates the others.
    token_nonce = models.PositiveIntegerField(default=0)
    soft_bounces = models.PositiveSmallIntegerField(default=0)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_send_at"]),
            # The admin filters subscribers by these.
            models.Index(fields=["time_zone"]),
            models.Index(fields=["frequency"]),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    def next_send(self, after: dt.datetime | None = None) -> dt.datetime:
        """The next local send hour after ``after`` (default now), in UTC."""
        return schedule.next_send_at(
            after or timezone.now(),
            hour=self.send_hour,
            time_zone=self.time_zone,
            weekly_on=self.weekday if self.frequency == self.Frequency.WEEKLY else None,
        )

    def schedule_next(self, after: dt.datetime | None = None) -> None:
        """Set next_send_at (in memory) to the next local send hour after ``after``."""
        self.next_send_at = self.next_send(after)

    @property
    def own_topic_lines(self) -> list[str]:
        """The topics this subscriber typed, one query each."""
        return topic_lines(self.own_topics)

    def topic_queries(self) -> list[str]:
        """Every topic this subscriber follows, as query strings, catalogue first."""
        return [topic.query for topic in self.topics.all()] + self.own_topic_lines


class Consent(models.Model):
    """Proof of opt-in: who asked, when, from where, through which form."""

    class Action(models.TextChoices):
        SIGNUP = "signup", "Signed up"
        CONFIRM = "confirm", "Confirmed"
        RESUBSCRIBE = "resubscribe", "Resubscribed"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="consents")
    action = models.CharField(max_length=16, choices=Action.choices)
    created_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    form_version = models.CharField(max_length=32, blank=True)

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.created_at:%Y-%m-%d %H:%M}"
