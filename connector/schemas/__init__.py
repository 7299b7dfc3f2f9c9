"""marshmallow schemas: the single definition of every shape the connector reads or writes."""

from .hook import (
    DeadLetterSchema,
    HookArgsSchema,
    HookCreatedSchema,
    HookSampleArgsSchema,
    HookSchema,
    ReplayArgsSchema,
    ReplayedSchema,
)
from .meta import AuthTestSchema, ErrorSchema, HealthSchema, ProviderInfoSchema
from .profile import GetProfileArgsSchema, ProfileSchema
from .trigger import NewVideoArgsSchema
from .video import GetVideoArgsSchema, VideoSchema

__all__ = [
    "AuthTestSchema",
    "DeadLetterSchema",
    "HookArgsSchema",
    "HookCreatedSchema",
    "HookSampleArgsSchema",
    "HookSchema",
    "ReplayArgsSchema",
    "ReplayedSchema",
    "ErrorSchema",
    "GetProfileArgsSchema",
    "GetVideoArgsSchema",
    "HealthSchema",
    "NewVideoArgsSchema",
    "ProfileSchema",
    "ProviderInfoSchema",
    "VideoSchema",
]
