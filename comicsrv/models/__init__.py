"""SQLAlchemy models, one module per aggregate. Importing this package
registers every table on ``db.metadata`` (Alembic autogenerate relies on it)."""
from .base import utcnow
from .automation import (
    BlockedRelease, Download, DownloadClientConfig, FeedItem, IndexerConfig,
    NotificationTarget, ReleaseDecision, RemotePathMapping, StoryArc, StoryArcIssue,
    WatchedIssue, WatchedSeries,
)
from .cluster import ClusterNode, EventPayload, RateLimitHit
from .jobs import Job
from .library import (
    ArcidAlias, Book, BookTag, DuplicateGroup, DuplicateMember, Library, Page, Publisher, Series, Tag,
)
from .lrr import Category, CategoryBook, Stamp, Tankoubon, TankoubonBook, TocEntry
from .reading import Favorite, ReadHistory, ReadingProgress, ToReadEntry
from .settings import Setting, SettingChange
from .users import (
    ApiKey, ClientToken, EmailToken, LoginThrottleEntry, Passkey, User, UserPreference,
    WebAuthnChallenge,
)
from .sharing import ReadingList, ReadingListEntry, SyncIntegration, UserIntegration

__all__ = [
    "BlockedRelease", "Download", "DownloadClientConfig", "FeedItem", "IndexerConfig",
    "NotificationTarget", "ReleaseDecision", "RemotePathMapping", "StoryArc", "StoryArcIssue",
    "WatchedIssue", "WatchedSeries",
    "ApiKey", "ArcidAlias", "Book", "BookTag", "Category", "CategoryBook", "ClientToken",
    "Stamp", "Tankoubon", "TankoubonBook", "TocEntry",
    "ClusterNode", "EventPayload", "RateLimitHit",
    "DuplicateGroup", "DuplicateMember", "Favorite", "Job", "Library", "LoginThrottleEntry", "Page",
    "Publisher", "ReadHistory", "ReadingProgress", "Series", "Setting", "SettingChange",
    "Tag", "ToReadEntry", "User", "UserPreference", "utcnow",
    "EmailToken", "Passkey", "WebAuthnChallenge",
    "ReadingList", "ReadingListEntry", "SyncIntegration", "UserIntegration",
]
