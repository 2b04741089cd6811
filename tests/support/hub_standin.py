"""A small stand-in of the Hugging Face Hub's HTTP API on 127.0.0.1, for the sync tests.

It answers exactly what `huggingface_hub` (the version installed, read in its source) calls
for `create_repo`, `CommitScheduler` / `create_commit`, `repo_info`, `list_repo_tree` and
`snapshot_download`, so the library's own code runs over real HTTP:

- POST /api/repos/create                                   [sdk huggingface_hub 2.4.0 hf_api.py create_repo]
- GET  /api/datasets/{id}[/revision/{rev}]                 [sdk huggingface_hub 2.4.0 hf_api.py dataset_info]
- POST /api/datasets/{id}/preupload/{rev}                  [sdk huggingface_hub 2.4.0 _commit_api.py _fetch_upload_modes]
- POST /api/datasets/{id}/commit/{rev} (NDJSON: header, file as base64, lfsFile, deletedFile)
                                                           [sdk huggingface_hub 2.4.0 _commit_api.py _prepare_commit_payload]
- GET  /api/datasets/{id}/tree/{rev}[/{path}]              [sdk huggingface_hub 2.4.0 hf_api.py _iter_repo_tree_pages]
- HEAD/GET /datasets/{id}/resolve/{rev}/{path}             [sdk huggingface_hub 2.4.0 file_download.py get_hf_file_metadata]
- POST /datasets/{id}.git/info/lfs/objects/batch, then PUT of the bytes
                                                           [sdk huggingface_hub 2.4.0 lfs.py post_lfs_batch_info, lfs_upload]

What it decides like the Hub, and how sure that is:
- preupload says "lfs" for a file whose 512-byte sample holds a NUL byte (binary) or of 10 MB
  and more, "regular" otherwise [guess: small binary files end up in LFS on the Hub, e.g. a
  3 kB .csv.gz uploaded with huggingface_hub, doc https://huggingface.co/gzhong/PreMode];
  a regular (inline) file with binary content is refused, as the Hub refuses binary pushes.
- "lfs" files go through the legacy LFS batch protocol only: the Xet protocol that the
  library prefers when `hf_xet` is installed is NOT implemented (a Xet upload fails here).
- one page per tree listing (the Hub pages at 1000 entries); no pull requests, no
  parentCommit checks, no rate limits.

Every request is recorded; a request it does not know is answered 404 and listed in
`unhandled`, so a test can assert the stand-in covered everything the library asked. The
one request answered 404 on purpose is GET /api/agent-harnesses, a best-effort lookup the
library makes once per process at `constants.ENDPOINT` (HF_ENDPOINT as read at its import),
whatever endpoint= a call passes [sdk huggingface_hub 2.4.0 utils/_detect_agent.py].
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LFS_THRESHOLD = 10 * 1024 * 1024
REPO_TYPES = {"datasets": "dataset", "models": "model", "spaces": "space"}
GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"


def point_library_at(url: str, monkeypatch: Any) -> None:
    """In a process that imported huggingface_hub before HF_ENDPOINT was set, set the two
    constants the library derives from HF_ENDPOINT at import as that import would have: one
    request of the library goes to constants.ENDPOINT whatever endpoint= says (agent
    detection), and hf_hub_url only swaps in an endpoint= that differs from constants.ENDPOINT,
    so ENDPOINT alone would send downloads to the URL template's host."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "ENDPOINT", url)
    monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Blob:
    data: bytes
    lfs: bool = False

    @property
    def oid(self) -> str:
        return git_sha1(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool
    commits: list[tuple[str, dict[str, Blob]]] = field(default_factory=list)  # (oid, tree), oldest first

    def head(self) -> tuple[str, dict[str, Blob]]:
        return self.commits[-1]

    def at(self, revision: str) -> tuple[str, dict[str, Blob]] | None:
        if revision == "main":
            return self.head()
        return next((c for c in self.commits if c[0] == revision), None)

    def add_commit(self, tree: dict[str, Blob], summary: str) -> str:
        parent = self.commits[-1][0] if self.commits else ""
        digest = hashlib.sha1(parent.encode() + summary.encode())
        for path in sorted(tree):
            digest.update(path.encode() + tree[path].oid.encode())
        oid = digest.hexdigest()
        self.commits.append((oid, tree))
        return oid


class HubStandIn:
    """Start with `with HubStandIn(token) as hub:`; point HF_ENDPOINT (or endpoint=) at `hub.url`."""

    def __init__(self, token: str | None = "hf_standin_0123456789abcdefghij") -> None:
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_store: dict[str, bytes] = {}  # sha256 -> content
        self.announced: set[str] = set()  # LFS oids a batch call allowed to be PUT
        self.requests: list[tuple[str, str]] = []
        self.unhandled: list[tuple[str, str]] = []
        self.commit_bodies: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()
        self._faults: dict[str, list[int]] = {}  # route -> statuses still to answer
        self._hold: threading.Event | None = None
        self.commit_arrived = threading.Event()  # set when a commit request reaches a hold
        self.commit_done = threading.Condition(self.lock)
        self.commits_ok = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- control ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HubStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def fail(self, route: str, times: int = 1, status: int = 500) -> None:
        """The next `times` requests to `route` (create, info, preupload, commit, tree, resolve,
        lfs) are answered `status` with an error body that echoes the caller's Authorization
        header, as careless servers do (the client must not show it)."""
        with self.lock:
            self._faults.setdefault(route, []).extend([status] * times)

    def hold_commits(self) -> None:
        """Commit requests wait (like a hub that stopped answering) until `release()`."""
        self.commit_arrived.clear()
        self._hold = threading.Event()

    def release(self) -> None:
        if self._hold is not None:
            self._hold.set()
            self._hold = None

    def wait_commits(self, n: int, timeout: float = 60.0) -> bool:
        """Wait until `n` commits have been accepted in all."""
        with self.commit_done:
            return self.commit_done.wait_for(lambda: self.commits_ok >= n, timeout)

    def files(self, repo_id: str, repo_type: str = "dataset") -> dict[str, bytes]:
        """Every file at the head of a repo, by path."""
        with self.lock:
            _, tree = self.repos[(repo_type, repo_id)].head()
            return {path: blob.data for path, blob in tree.items()}

    def repo(self, repo_id: str, repo_type: str = "dataset") -> Repo:
        return self.repos[(repo_type, repo_id)]

    # -- the HTTP side ---------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                hub._dispatch(self, "GET")

            def do_HEAD(self) -> None:
                hub._dispatch(self, "HEAD")

            def do_POST(self) -> None:
                hub._dispatch(self, "POST")

            def do_PUT(self) -> None:
                hub._dispatch(self, "PUT")

        return Handler

    ROUTES: list[tuple[str, str, str]] = [
        ("POST", r"/api/repos/create", "create"),
        ("GET", r"/api/(?P<t>datasets|models|spaces)/(?P<id>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?", "info"),
        ("POST", r"/api/(?P<t>datasets|models|spaces)/(?P<id>[^/]+/[^/]+)/preupload/(?P<rev>[^/]+)", "preupload"),
        ("POST", r"/api/(?P<t>datasets|models|spaces)/(?P<id>[^/]+/[^/]+)/commit/(?P<rev>[^/]+)", "commit"),
        (
            "GET",
            r"/api/(?P<t>datasets|models|spaces)/(?P<id>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?",
            "tree",
        ),
        ("HEAD|GET", r"/(?P<t>datasets|spaces)/(?P<id>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("POST", r"/(?P<t>datasets|spaces)/(?P<id>[^/]+/[^/]+)\.git/info/lfs/objects/batch", "lfs"),
        ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", "lfs_put"),
    ]

    def _dispatch(self, req: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(req.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        body = _read_body(req)
        with self.lock:
            self.requests.append((method, parts.path))
        if path == "/api/agent-harnesses":  # the library's best-effort agent detection: not needed here
            return _send(req, 404, {"error": "not served by the stand-in"})
        for methods, pattern, route in self.ROUTES:  # noqa: B007  (the route found is called after the loop)
            match = re.fullmatch(pattern, path)
            if match and method in methods.split("|"):
                break
        else:
            with self.lock:
                self.unhandled.append((method, parts.path))
            return _send(req, 404, {"error": f"the stand-in does not know {method} {parts.path}"})
        if route != "lfs_put" and self.token and req.headers.get("authorization") != f"Bearer {self.token}":
            return _send(
                req,
                401,
                {"error": "Invalid credentials in Authorization header"},
                {"X-Error-Message": "Invalid credentials in Authorization header"},
            )
        with self.lock:
            statuses = self._faults.get(route)
            status = statuses.pop(0) if statuses else None
        if status is not None:
            echo = req.headers.get("authorization", "")
            return _send(req, status, {"error": f"stand-in fault on {route} (request carried {echo!r})"})
        groups = match.groupdict()
        repo_type = REPO_TYPES.get(groups.get("t") or "", "dataset")
        getattr(self, f"_{route}")(req, method, groups, repo_type, query, body)

    def _find(
        self, req: BaseHTTPRequestHandler, repo_type: str, repo_id: str, revision: str | None = "main"
    ) -> tuple[Repo, str, dict[str, Blob]] | None:
        with self.lock:
            repo = self.repos.get((repo_type, repo_id))
            found = repo.at(revision or "main") if repo else None
        if repo is None:
            _send(req, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return None
        if found is None:
            _send(req, 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
            return None
        return repo, found[0], found[1]

    # -- routes ----------------------------------------------------------------------------------
    def _create(
        self,
        req: BaseHTTPRequestHandler,
        method: str,
        groups: dict[str, str],
        repo_type: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        payload = json.loads(body or b"{}")
        kind = payload.get("type") or "model"
        if not payload.get("organization"):
            return _send(req, 400, {"error": "the stand-in needs an explicit namespace (owner/name)"})
        repo_id = f"{payload['organization']}/{payload['name']}"
        prefix = "" if kind == "model" else f"{kind}s/"
        url = f"{self.url}/{prefix}{repo_id}"
        with self.lock:
            if (kind, repo_id) in self.repos:
                return _send(req, 409, {"error": "You already created this repo", "url": url})
            # The Hub makes a repo public unless told otherwise (or the org defaults to private)
            repo = Repo(repo_id, kind, private=payload.get("visibility") == "private")
            repo.add_commit({".gitattributes": Blob(GITATTRIBUTES)}, "initial commit")
            self.repos[(kind, repo_id)] = repo
        _send(req, 200, {"url": url, "name": repo_id})

    def _info(
        self,
        req: BaseHTTPRequestHandler,
        method: str,
        groups: dict[str, str],
        repo_type: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        found = self._find(req, repo_type, groups["id"], groups.get("rev"))
        if found:
            repo, oid, tree = found
            _send(
                req,
                200,
                {
                    "id": repo.repo_id,
                    "sha": oid,
                    "private": repo.private,
                    "siblings": [{"rfilename": p} for p in sorted(tree)],
                },
            )

    def _preupload(
        self,
        req: BaseHTTPRequestHandler,
        method: str,
        groups: dict[str, str],
        repo_type: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        found = self._find(req, repo_type, groups["id"], groups["rev"])
        if not found:
            return
        _, _, tree = found
        answers = []
        for entry in json.loads(body)["files"]:
            sample = base64.b64decode(entry["sample"])
            lfs = b"\x00" in sample or int(entry["size"]) >= LFS_THRESHOLD
            existing = tree.get(entry["path"])
            oid = None if existing is None else (existing.sha256 if existing.lfs else existing.oid)
            answers.append(
                {"path": entry["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid}
            )
        _send(req, 200, {"files": answers, "commitOid": found[1]})

    def _commit(
        self,
        req: BaseHTTPRequestHandler,
        method: str,
        groups: dict[str, str],
        repo_type: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        hold = self._hold
        if hold is not None:
            self.commit_arrived.set()
            hold.wait(120)
        found = self._find(req, repo_type, groups["id"], groups["rev"])
        if not found:
            return
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            return _send(req, 400, {"error": "the commit payload must start with a header line"})
        with self.lock:
            repo = found[0]
            tree = dict(repo.head()[1])  # applied on top of the current head, as the Hub does
            for line in lines[1:]:
                key, value = line["key"], line["value"]
                if key == "file":
                    data = base64.b64decode(value["content"])
                    if b"\x00" in data[:8000]:
                        return _send(req, 400, {"error": f"{value['path']}: binary files must be stored with LFS/Xet"})
                    tree[value["path"]] = Blob(data)
                elif key == "lfsFile":
                    if value["oid"] not in self.lfs_store:
                        return _send(
                            req, 422, {"error": f"{value['path']}: LFS object {value['oid']} was not uploaded"}
                        )
                    tree[value["path"]] = Blob(self.lfs_store[value["oid"]], lfs=True)
                elif key == "deletedFile":
                    tree.pop(value["path"], None)
                else:
                    return _send(req, 400, {"error": f"the stand-in does not take {key!r} operations"})
            oid = repo.add_commit(tree, lines[0]["value"].get("summary", ""))
            self.commit_bodies.append(lines)
            self.commits_ok += 1
            self.commit_done.notify_all()
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        _send(
            req,
            200,
            {"commitUrl": f"{self.url}/{prefix}{repo.repo_id}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None},
        )

    def _tree(
        self,
        req: BaseHTTPRequestHandler,
        method: str,
        groups: dict[str, str],
        repo_type: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        found = self._find(req, repo_type, groups["id"], groups["rev"])
        if not found:
            return
        base = (groups.get("path") or "").strip("/")
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        _send(req, 200, list(_listing(found[2], base, recursive)))

    def _resolve(
        self,
        req: BaseHTTPRequestHandler,
        method: str,
        groups: dict[str, str],
        repo_type: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        found = self._find(req, repo_type, groups["id"], groups["rev"])
        if not found:
            return
        _, oid, tree = found
        blob = tree.get(groups["path"])
        if blob is None:
            return _send(
                req, 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": oid}
            )
        headers = {"X-Repo-Commit": oid, "ETag": f'"{blob.oid}"', "Content-Type": "application/octet-stream"}
        if blob.lfs:  # the Hub redirects LFS files to a CDN and names them by sha256; served here directly
            headers.update({"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(len(blob.data))})
        _send_bytes(req, 200, blob.data, headers, head=method == "HEAD")

    def _lfs(
        self,
        req: BaseHTTPRequestHandler,
        method: str,
        groups: dict[str, str],
        repo_type: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        payload = json.loads(body)
        objects = []
        for obj in payload.get("objects", []):
            entry = {"oid": obj["oid"], "size": obj["size"]}
            with self.lock:
                if obj["oid"] not in self.lfs_store:
                    self.announced.add(obj["oid"])
                    entry["actions"] = {"upload": {"href": f"{self.url}/lfs-upload/{obj['oid']}"}}
            objects.append(entry)
        _send(req, 200, {"transfer": "basic", "objects": objects})

    def _lfs_put(
        self,
        req: BaseHTTPRequestHandler,
        method: str,
        groups: dict[str, str],
        repo_type: str,
        query: dict[str, list[str]],
        body: bytes,
    ) -> None:
        oid = groups["oid"]
        with self.lock:
            if oid not in self.announced:
                return _send(req, 403, {"error": "no batch call announced this object"})
            if hashlib.sha256(body).hexdigest() != oid:
                return _send(req, 400, {"error": "content does not match its sha256"})
            self.lfs_store[oid] = body
        _send(req, 200, {})


def _listing(tree: dict[str, Blob], base: str, recursive: bool) -> Iterator[dict[str, Any]]:
    prefix = f"{base}/" if base else ""
    folders: set[str] = set()
    for path in sorted(tree):
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :]
        parents = rest.split("/")[:-1]
        for depth in range(1, len(parents) + 1 if recursive else min(1, len(parents)) + 1):
            folders.add(prefix + "/".join(parents[:depth]))
        if recursive or "/" not in rest:
            blob = tree[path]
            entry: dict[str, Any] = {"type": "file", "oid": blob.oid, "size": len(blob.data), "path": path}
            if blob.lfs:
                entry["lfs"] = {"oid": blob.sha256, "size": len(blob.data), "pointerSize": 134}
            yield entry
    for folder in sorted(folders):
        yield {"type": "directory", "oid": hashlib.sha1(folder.encode()).hexdigest(), "path": folder}


def _read_body(req: BaseHTTPRequestHandler) -> bytes:
    if req.headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(req.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                req.rfile.readline()
                return b"".join(chunks)
            chunks.append(req.rfile.read(size))
            req.rfile.readline()
    length = int(req.headers.get("content-length") or 0)
    return req.rfile.read(length) if length else b""


def _send(req: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    _send_bytes(req, status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})


def _send_bytes(
    req: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str], head: bool = False
) -> None:
    req.send_response(status)
    for name, value in headers.items():
        req.send_header(name, value)
    req.send_header("Content-Length", str(len(data)))
    req.end_headers()
    if not head:
        req.wfile.write(data)
