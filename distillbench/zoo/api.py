"""A teacher served as an API: each prompt of a prompt stream always gets the same sampled answer.

Why: real distillers send their queries to one endpoint, and the vendor keeps a log of what it served. Sampling
in fixed chunks of the stream (prompt i lives in chunk i // CHUNK, seeded by the chunk) makes an answer a pure
function of (teacher, stream, i, sampling settings), so a student distilled on prompts 0-3000 and one distilled on
prompts 0-750 saw the very same answers for prompts 0-750, and the pool can quote that "API log" back to a
membership test. Chunks are cached on disk, one JSON file per teacher and stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from distillbench.files import write_atomic
from distillbench.fingerprint import sha256_json

CHUNK = 32

Sampler = Callable[[list[str], tuple], list[str]]  # (prompts, seed label) -> completions


class TeacherAPI:
    def __init__(self, cache_dir: Path, teacher_key: str, sampler: Sampler, settings: dict) -> None:
        self.cache_dir = cache_dir
        self.teacher_key = teacher_key
        self.sampler = sampler
        self.settings = settings  # temperature, max_new_tokens: part of the cache key

    def _cache_path(self, stream: str) -> Path:
        key = sha256_json({"teacher": self.teacher_key, "stream": stream, "settings": self.settings})
        return self.cache_dir / f"api-{key[:20]}.json"

    def answers(self, stream: str, prompt_at: Callable[[int], str], start: int, stop: int, seed_tag: str = "api") -> list[str]:
        """Completions for prompts [start, stop) of `stream`; `seed_tag` other than "api" draws fresh samples."""
        path = self._cache_path(f"{stream}|{seed_tag}")
        chunks: dict[str, list[str]] = json.loads(path.read_text()) if path.is_file() else {}
        dirty = False
        for c in range(start // CHUNK, (stop - 1) // CHUNK + 1):
            if str(c) not in chunks:
                prompts = [prompt_at(i) for i in range(c * CHUNK, (c + 1) * CHUNK)]
                chunks[str(c)] = self.sampler(prompts, (self.teacher_key, stream, seed_tag, c))
                dirty = True
        if dirty:
            write_atomic(path, json.dumps(chunks, sort_keys=True))
        return [chunks[str(i // CHUNK)][i % CHUNK] for i in range(start, stop)]
