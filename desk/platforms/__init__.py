"""Platform adapters: the only code that speaks to a platform. Importing this registers them all."""
from . import (
                   facebook,  # noqa: F401  (registers itself)
                   flickr,  # noqa: F401  (registers itself)
                   training,  # noqa: F401  (registers itself)
                   x,  # noqa: F401  (registers itself)
                   youtube,  # noqa: F401  (registers itself)
)
from .base import (
                   AuthorizationStart,
                   ClaimLost,
                   Content,
                   MediaItem,
                   PlatformContext,
                   PlatformError,
                   Problem,
                   Publisher,
                   PublishRequest,
                   RemoteAccount,
                   RemoteRef,
                   publisher_class,
                   publisher_for,
                   registered_platforms,
)

__all__ = ["AuthorizationStart", "ClaimLost", "Content", "MediaItem", "RemoteAccount", "PlatformContext",
           "PlatformError", "Problem", "Publisher", "PublishRequest", "RemoteRef", "publisher_class", "publisher_for",
           "registered_platforms"]
