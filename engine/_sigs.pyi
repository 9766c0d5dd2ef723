"""Type stubs for the Cython module avgate._sigs (engine/_sigs.pyx)."""
from typing import Any, Optional, Union

import numpy as np

from ._matcher import Matcher

Buffer = Union[bytes, bytearray, memoryview, Any]
Hit = tuple[int, int]

RECORD_SIZES: dict[str, int]

class BodyTables:
    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        stream_matcher: Optional[Matcher],
        tail_matcher: Optional[Matcher],
        stream_history: int,
        tail_history: int,
    ) -> None: ...
    @property
    def has_stream(self) -> bool: ...
    @property
    def has_tail(self) -> bool: ...
    def node(self) -> "BodyNode": ...

class BodyNode:
    tables: BodyTables
    def __init__(self, tables: BodyTables) -> None: ...
    def feed(self, chunk: Buffer) -> list[Hit]: ...
    def finish(self) -> list[Hit]: ...
    def reset(self) -> None: ...

class DigestIndex:
    digests: np.ndarray
    sizes: np.ndarray
    def __init__(self, digests: np.ndarray, sizes: np.ndarray) -> None: ...
    def __len__(self) -> int: ...
    def rows(self, digest: bytes, size: int) -> list[int]: ...

def stretch_bits(data: bytes) -> float: ...
