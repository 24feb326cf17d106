"""Platform adapters: the only code that speaks to a platform. Importing this registers them all."""
from . import facebook  # noqa: F401  (registers itself)
from . import training  # noqa: F401  (registers itself)
from . import x  # noqa: F401  (registers itself)
from . import youtube  # noqa: F401  (registers itself)
from . import flickr  # noqa: F401  (registers itself)
from .base import (AuthorizationStart, Content, MediaItem, RemoteAccount, PlatformContext, PlatformError, Problem, Publisher, PublishRequest, RemoteRef,
                   publisher_class, publisher_for, registered_platforms)

__all__ = ["AuthorizationStart", "Content", "MediaItem", "RemoteAccount", "PlatformContext", "PlatformError", "Problem", "Publisher", "PublishRequest",
           "RemoteRef", "publisher_class", "publisher_for", "registered_platforms"]
