from __future__ import annotations

from django.db import models
from django.utils import timezone

from digest.ingest import feedtext
from digest.search.why import describe


class Source(models.Model):
    class Kind(models.TextChoices):
        HF_DAILY = "hf_daily", "Hugging Face Daily Papers"
        ARXIV_LISTING = "arxiv_listing", "arXiv listing feed"
        ARXIV_API = "arxiv_api", "arXiv API query"
        FEED = "feed", "RSS/Atom feed"

    class Status(models.TextChoices):
        NEVER = "never", "Never run"
        OK = "ok", "OK"
        PARTIAL = "partial", "Some items rejected"
        ERROR = "error", "Failed"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.URLField(
        max_length=500, blank=True, help_text="Leave empty to use the kind's usual address."
    )
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text='Kind-specific parameters, e.g. {"categories": ["cs.LG"]} or {"query": "..."}.',
    )
    enabled = models.BooleanField(default=True)
    etag = models.CharField(max_length=300, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=8, choices=Status.choices, default=Status.NEVER)
    last_counts = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name


class SourceRun(models.Model):
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="runs")
    day = models.DateField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Source.Status.choices, default="never")
    new = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["source", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.source} {self.day}"


class PaperQuerySet(models.QuerySet):
    def listed_on(self, day):
        return self.filter(listings__day=day).distinct()


class Paper(models.Model):
    # "arxiv:2401.12345" (bare id, no version) when there is one, else the
    # feed's guid, else its link: one row per real paper, whatever the source.
    key = models.CharField(max_length=500, unique=True)
    arxiv_id = models.CharField(max_length=40, blank=True, db_index=True)
    title = models.TextField()
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True)
    categories = models.JSONField(default=list, blank=True)
    abs_url = models.URLField(max_length=500, blank=True)
    pdf_url = models.URLField(max_length=500, blank=True)
    code_url = models.URLField(max_length=500, blank=True)
    project_url = models.URLField(max_length=500, blank=True)
    hf_url = models.URLField(max_length=500, blank=True)
    # What some sources add (Hugging Face): a one-sentence summary, the source's keywords
    # (matched like words of the abstract) and the code repository's GitHub stars.
    summary = models.TextField(blank=True)
    keywords = models.JSONField(default=list, blank=True)
    github_stars = models.PositiveIntegerField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveSmallIntegerField(null=True, blank=True)
    upvotes = models.IntegerField(default=0)
    comments = models.IntegerField(default=0)
    first_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # What the paper means, as a float16 vector of the embedding model named beside it,
    # made once at ingest (docs/matching.md, "Meaning"); a paper whose model name differs
    # from the running model's is embedded again (manage.py embed_papers).
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    embedding_model = models.CharField(max_length=80, blank=True, editable=False)

    objects = PaperQuerySet.as_manager()

    def __str__(self) -> str:
        return self.title[:80]

    @property
    def url(self) -> str:
        """The link to the paper itself, never its code or project page instead."""
        return feedtext.paper_url(
            self.arxiv_id, self.abs_url, self.title, self.code_url, self.project_url
        )

    def lead_and_rest(self) -> tuple[str, str]:
        """The paper's first line and the abstract after it (``feedtext.lead_and_rest``)."""
        return feedtext.lead_and_rest(self.summary, self.abstract)


class Listing(models.Model):
    """One source listed one paper on one day: what "each day's list" means."""

    class AnnounceType(models.TextChoices):
        NONE = "", "n/a"
        NEW = "new", "New"
        CROSS = "cross", "Cross-list"
        REPLACE = "replace", "Replacement"
        REPLACE_CROSS = "replace-cross", "Replacement cross-list"

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="listings")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="listings")
    day = models.DateField(db_index=True)
    rank = models.PositiveIntegerField(default=0)
    upvotes = models.IntegerField(default=0)
    comments = models.IntegerField(default=0)
    announce_type = models.CharField(
        max_length=16, choices=AnnounceType.choices, default="", blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "paper", "day"], name="listing_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.day} #{self.rank}"


class Topic(models.Model):
    """The operator's catalogue of topics subscribers can pick."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    query = models.CharField(max_length=500, help_text="In the topic language, see the docs.")
    public = models.BooleanField(default=True, help_text="Offered on the signup page.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def about(self) -> str:
        return self.about_text(self.name, self.description)

    @staticmethod
    def about_text(name: str, description: str) -> str:
        """What the topic means, in words, for the cut by meaning: its query's broad
        alternatives ("tool use", "multi-agent") are kept only for papers about this."""
        return f"{name}. {description}".strip(" .")


class Digest(models.Model):
    """One edition of one subscriber's email, claimed once and sent at most once."""

    class Status(models.TextChoices):
        CLAIMED = "claimed", "Claimed by a worker"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped (nothing new)"
        FAILED = "failed", "Failed"
        # A worker died after the request may have reached a provider that cannot be asked
        # whether it holds the message: never sent again by itself (docs/delivery.md).
        UNKNOWN = "unknown", "Maybe sent (worker lost mid-send)"

    subscriber = models.ForeignKey(
        "accounts.Subscriber", on_delete=models.CASCADE, related_name="digests"
    )
    edition = models.DateField(help_text="The subscriber's local date of this edition.")
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.CLAIMED, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Which claim owns the row: a worker writes its own random token, then reads back
    # the rows carrying it, so a bulk conditional UPDATE still says who won each row.
    claim_token = models.CharField(max_length=32, blank=True, db_index=True)
    # Written before the request to the provider goes, and cleared when the chunk records
    # an outcome: a claim taken over with it set may be at the provider already.
    sending_at = models.DateTimeField(null=True, blank=True)
    # When the provider accepted the message (written as soon as it answers, before the
    # digest is recorded as sent).
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    subject = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=200, blank=True, db_index=True)
    error = models.TextField(blank=True)
    papers: models.ManyToManyField[Paper, DigestItem] = models.ManyToManyField(
        Paper, through="DigestItem", related_name="digests"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "edition"], name="digest_one_per_edition")
        ]
        # Matching reads a chunk's recently sent digests (digest.matching._sent).
        indexes = [models.Index(fields=["subscriber", "sent_at"], name="digest_subscriber_sent")]

    def __str__(self) -> str:
        return f"{self.subscriber} {self.edition}"


class DigestItem(models.Model):
    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="items")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="digest_items")

    class Kind(models.TextChoices):
        WORDS = "words", "Its words"
        MEANING = "meaning", "Its meaning"
        FEEDBACK = "feedback", "Papers the reader liked"

    rank = models.PositiveSmallIntegerField(default=0)
    score = models.FloatField(default=0.0)
    # Why the paper was chosen, as values (docs/matching.md, "The why"): the topic's label,
    # the words of the paper to highlight, how it matched, and the sentence closest to the
    # topic (or the title of the liked paper).
    topic = models.CharField(max_length=200, blank=True)
    terms = models.JSONField(default=list, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.WORDS)
    sentence = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(fields=["digest", "paper"], name="digest_item_unique")
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.paper}"

    @property
    def why(self) -> str:
        return describe(self.topic, self.kind, self.terms or (), self.sentence)


class Feedback(models.Model):
    """A subscriber's "more like this" (+1) or "less like this" (-1) on a paper."""

    subscriber = models.ForeignKey(
        "accounts.Subscriber", on_delete=models.CASCADE, related_name="feedback"
    )
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="feedback")
    value = models.SmallIntegerField(choices=[(1, "More like this"), (-1, "Less like this")])
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "paper"], name="feedback_unique")
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} {self.value:+d} {self.paper}"


class EmailEventQuerySet(models.QuerySet):
    def about(self, subscribers: models.QuerySet) -> EmailEventQuerySet:
        """Events addressed to these subscribers or about one of their digests: personal
        data, exported and erased with the subscriber."""
        return self.filter(
            models.Q(recipient__in=subscribers.values("email"))
            | models.Q(digest__subscriber__in=subscribers)
        )


class EmailEvent(models.Model):
    """A tracking event from the sending provider, stored as received."""

    event_id = models.CharField(max_length=200, unique=True, null=True, blank=True)
    event_type = models.CharField(max_length=32, db_index=True)
    recipient = models.EmailField(blank=True, db_index=True)
    message_id = models.CharField(max_length=200, blank=True, db_index=True)
    digest = models.ForeignKey(
        Digest, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    timestamp = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    description = models.TextField(blank=True)
    raw = models.JSONField(default=dict, blank=True)

    objects = EmailEventQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.event_type} {self.recipient}"


class SuppressionQuerySet(models.QuerySet):
    def of(self, email: str):
        """The suppression of ``email``, whatever the case it was written in."""
        return self.filter(email=Suppression.normalize(email))


class Suppression(models.Model):
    """An address we must not mail, kept even after its subscriber is erased.

    Stored in lower case, as subscribers' addresses are, so one rule finds it everywhere:
    ``of(email)`` for one address, and a plain join on ``email`` for many (delivery's
    ``sendable()``), whatever case an operator or a provider wrote it in."""

    class Reason(models.TextChoices):
        BOUNCED = "bounced", "Hard bounce"
        COMPLAINED = "complained", "Spam complaint"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed at the provider"
        SOFT_BOUNCES = "soft_bounces", "Too many soft bounces"
        MANUAL = "manual", "Added by an operator"

    email = models.EmailField(unique=True)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now)
    event = models.ForeignKey(EmailEvent, null=True, blank=True, on_delete=models.SET_NULL)

    objects = SuppressionQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.email} ({self.get_reason_display()})"

    def save(self, *args, **kwargs):
        self.email = self.normalize(self.email)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # Before the form's uniqueness check, so "A@x.org" is found to be "a@x.org".
        self.email = self.normalize(self.email)

    @staticmethod
    def normalize(email: str) -> str:
        return email.strip().lower()
