"""Day-cap reservations shared by every process on one DATA_DIR.

While a run is in flight its estimate counts towards PLAYGROUND_MAX_USD_PER_DAY; once its row
is in runs.csv the row's cost counts instead. A counter in memory would only see the runs of
its own process, so two processes on one DATA_DIR (the app and a CLI batch, two app workers)
could each pass the cap's check with the other's runs unseen. The reservations therefore live
in `DATA_DIR/reservations.json`, and the day cap's check and the new reservation happen under
one cross-process lock (`reservations.json.lock`), so two runs cannot both pass it.

    {"run_id": {"pid": 123, "host": "name", "usd": 0.07, "expires": 1767225600.0}, ...}

An entry is released after its run's row is appended (counting a run twice for a moment is
safe; counting it nowhere would not be). An entry whose process is gone (same host, pid not
running) or whose time has passed (the run deadline plus a margin) is ignored and dropped,
so a crashed process cannot hold the budget. Processes on different machines sharing a
DATA_DIR are told apart by host name; their entries are dropped only on expiry.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock

FINISH_MARGIN_S = 300.0  # after its deadline a run still scores and appends its row


class DayReservations:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "reservations.json"
        self.lock = FileLock(str(self.path) + ".lock")

    def reserve(self, run_id: str, usd: float, lifetime_s: float, check: Callable[[float], None]) -> None:
        """Call `check(usd reserved by runs in flight)`, which raises to refuse, then reserve `usd`
        for `run_id` for at most `lifetime_s` seconds: both under the lock, so atomic across processes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            entries = self._live(self._read())
            check(sum(float(e["usd"]) for e in entries.values()))
            entries[run_id] = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "usd": usd,
                "expires": time.time() + lifetime_s,
            }
            self._write(entries)

    def release(self, run_id: str) -> None:
        if not self.path.exists():
            return
        try:
            with self.lock:
                entries = self._live(self._read())
                entries.pop(run_id, None)
                self._write(entries)
        except OSError:  # (a full disk): the entry expires by itself; counting a finished run a while longer is safe
            pass

    def reserved_usd(self) -> float:
        """Dollars reserved by runs in flight in every process on this DATA_DIR."""
        if not self.path.exists():
            return 0.0
        with self.lock:
            return sum(float(e["usd"]) for e in self._live(self._read()).values())

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):  # unreadable (written only by os.replace, so unlikely): start over
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, entries: dict[str, Any]) -> None:
        part = self.path.with_name(f"{self.path.name}.{os.getpid()}.part")
        part.write_text(json.dumps(entries), encoding="utf-8")
        os.replace(part, self.path)  # readers never see half a file

    @staticmethod
    def _live(entries: dict[str, Any]) -> dict[str, Any]:
        now, host = time.time(), socket.gethostname()
        return {
            run_id: e
            for run_id, e in entries.items()
            if isinstance(e, dict)
            and _number(e.get("usd"))
            and _number(e.get("expires"))
            and e["expires"] > now
            and not (e.get("host") == host and not _running(e.get("pid")))
        }


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _running(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True
