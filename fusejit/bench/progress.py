"""A progress bar on stderr while the suite runs (tqdm when installed, plain lines otherwise),
so stdout carries nothing but the table."""

from __future__ import annotations

import sys


class Progress:
    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total, self.done, self.enabled = total, 0, enabled and sys.stderr.isatty()
        self._bar = None
        if self.enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                # disable=None: no bar when stderr is not a terminal (CI logs stay clean)
                self._bar = tqdm(total=total, file=sys.stderr, unit="step", dynamic_ncols=True, leave=False,
                                 disable=None)

    def status(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(text, refresh=True)
        elif self.enabled:
            print(f"[{self.done}/{self.total}] {text}", file=sys.stderr, flush=True)

    def advance(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
