"""avgate: an antivirus scan engine for Python with a native core."""
import logging as _logging

# A library logs, the application decides where to: no output unless configured
# (log-and-permit decisions are WARNING records on "avgate.policy").
_logging.getLogger("avgate").addHandler(_logging.NullHandler())
from ._matcher import Matcher, MatchStream
from .database import Database, DatabaseError
from .engine import Engine, ScanStream
from .governor import ScanLimits
from .policy import Decision
from .profile import Notice, Profile, ProfileError
from .errors import (
    REASONS,
    ContentSize,
    CorruptFile,
    DecompressLayer,
    EngineNotReady,
    InternalError,
    OutOfResources,
    PasswordFile,
    ScanError,
    ScanTimeout,
    TooManyRequests,
)
from .result import Detection, Problem, ScanResult, ScanStats

__version__ = "0.1.0"

__all__ = [
    "Engine",
    "ScanStream",
    "Database",
    "DatabaseError",
    "Profile",
    "ProfileError",
    "Notice",
    "Decision",
    "ScanLimits",
    "Matcher",
    "MatchStream",
    "REASONS",
    "ScanError",
    "EngineNotReady",
    "CorruptFile",
    "DecompressLayer",
    "PasswordFile",
    "ContentSize",
    "TooManyRequests",
    "ScanTimeout",
    "OutOfResources",
    "InternalError",
    "Detection",
    "Problem",
    "ScanResult",
    "ScanStats",
]
