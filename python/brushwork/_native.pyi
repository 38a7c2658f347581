"""Type stubs of the compiled module brushwork._native (private: use brushwork's API)."""

from os import PathLike
from typing import List, Optional, Sequence, Tuple, Union

MIN_CONTENT_SIDE: int
MIN_MEMORY_BUDGET: int
DEFAULT_TILE_SIDE: int
EMBEDDING_DIM: int
NUM_PRESETS: int
MAX_PALETTE: int
VERSION: str

# ("path", PATH) or ("pixels", BYTES, WIDTH, HEIGHT, CHANNELS): rows of 8-bit RGB or RGBA.
_Picture = tuple
# ("spec", TEXT), ("vector", 400 BYTES) or a _Picture (a painting to embed).
_StyleItem = tuple

class Engine:
    def __init__(
        self,
        device: str,
        precision: str,
        threads: Optional[int],
        memory_budget: Optional[int],
        tile_size: int,
        workers: int,
    ) -> None: ...
    @property
    def device(self) -> str: ...
    @property
    def precision(self) -> str: ...
    @property
    def engine(self) -> str: ...
    @property
    def workers(self) -> int: ...
    def stylize(
        self,
        image: _Picture,
        styles: Sequence[_StyleItem],
        presets: Sequence[str],
        weights: Optional[Sequence[float]],
        strength: float,
        preserve_color: bool,
    ) -> Tuple[bytearray, int, int, float]: ...
    def embed(self, painting: _Picture) -> Tuple[bytes, float]: ...
    def _panic_on_a_worker(self) -> None: ...

def predictor_sha256() -> str: ...
def read_style(path: Union[str, PathLike[str]]) -> Tuple[bytes, str, str]: ...
def write_style(
    path: Union[str, PathLike[str]], name: str, source: str, vector: bytes
) -> None: ...
def blend_styles(vectors: Sequence[bytes], weights: Sequence[float]) -> bytes: ...
def builtin_style(name: str) -> Tuple[bytes, str, str, str]: ...
def builtin_names() -> List[str]: ...
def style_name_problem(name: str) -> Optional[str]: ...
