"""The YAML dial plan: typed, immutable, checked, with file:line:column errors.

``load_config(path)`` returns a frozen :class:`Config` or raises :class:`ConfigError`
listing every problem. The reference of every key is ``docs/dialplan.md``.
"""

from voxcenter.config.durations import DurationError, format_duration, parse_duration
from voxcenter.config.issues import ConfigError, ConfigIssue, Position, SourceMap
from voxcenter.config.loader import analyse, load_config
from voxcenter.config.schema import Config

__all__ = [
    "Config",
    "ConfigError",
    "ConfigIssue",
    "DurationError",
    "Position",
    "SourceMap",
    "analyse",
    "format_duration",
    "load_config",
    "parse_duration",
]
