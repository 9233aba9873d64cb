"""Files: ``files.getUploadURLExternal``, the upload itself, ``files.completeUploadExternal``,
``files.info``, and the uploaded bytes served back under ``<base_url>/files/<id>``.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from .blocks import validate_blocks
from .http_io import Response, parse_multipart, read_body, sniff_mimetype, text_response
from .workspace import ApiError, Workspace


class FilesApi(Workspace):
    """The ``files_upload_v2`` flow, as ``slack_sdk`` drives it."""

    def _file_obj(self, f: dict, base: str) -> dict:
        ext = Path(f["name"]).suffix.lstrip(".").lower()
        return {
            "id": f["id"],
            "created": f["created"],
            "timestamp": f["created"],
            "name": f["name"],
            "title": f["title"],
            "mimetype": f["mimetype"],
            "filetype": ext or "binary",
            "pretty_type": ext.upper() or "Binary",
            "user": self.bot_user_id,
            "user_team": self.team_id,
            "editable": False,
            "size": len(f["data"] or b""),
            "mode": "hosted",
            "is_external": False,
            "is_public": True,
            "alt_txt": f.get("alt_txt"),
            "url_private": f"{base}/files/{f['id']}",
            "url_private_download": f"{base}/files/{f['id']}?download=1",
            "permalink": f"{base}/files/{f['id']}",
            "channels": list(f["shares"]),
            "shares": {"public": copy.deepcopy(f["shares"])} if f["shares"] else {},
        }

    def _api_files_get_upload_url(self, params: dict, environ: dict) -> dict:
        name = params.get("filename")
        try:
            length = int(params.get("length", ""))
        except (TypeError, ValueError):
            raise ApiError("invalid_arguments") from None
        if not name or length < 0:
            raise ApiError("invalid_arguments")
        fid = self._new_id("F")
        with self._lock:
            self._files[fid] = {
                "id": fid,
                "name": str(name),
                "title": str(name),
                "length": length,
                "alt_txt": params.get("alt_txt"),
                "mimetype": "application/octet-stream",
                "data": None,
                "created": int(time.time()),
                "shares": {},
            }
        return {"upload_url": f"{environ['_base']}/upload/{fid}", "file_id": fid}

    def _handle_upload(self, fid: str, environ: dict) -> Response:
        body = read_body(environ)
        record = {
            "method": "upload",
            "params": {"file_id": fid, "bytes": len(body)},
            "time": time.time(),
        }
        with self._lock:
            self.calls.append(record)
        failure = self._take_failure("upload")
        if failure is not None:
            record.update(status=failure.status, ok=False)
            return failure
        ctype = environ.get("CONTENT_TYPE", "")
        declared = None
        data = body
        if ctype.startswith("multipart/form-data"):
            parts = parse_multipart(body, ctype)
            file_parts = [p for p in parts if p[1]] or [p for p in parts if p[0] == "file"]
            if not file_parts:
                record.update(status=400, ok=False)
                return text_response("no file in the form", 400)
            _name, _filename, declared, data = file_parts[0]
        with self._lock:
            f = self._files.get(fid)
            if f is None:
                record.update(status=404, ok=False)
                return text_response("file_not_found", 404)
            f["data"] = bytes(data)
            f["mimetype"] = sniff_mimetype(f["name"], f["data"], declared)
        record.update(status=200, ok=True)
        return text_response(f"OK - {len(data)}")

    def _api_files_complete_upload(self, params: dict, environ: dict) -> dict:
        items = params.get("files")
        if not isinstance(items, list) or not items:
            raise ApiError("invalid_arguments")
        channels: list[str] = []
        if params.get("channel_id"):
            channels.append(self._require_channel(params["channel_id"]))
        for c in str(params.get("channels") or "").split(","):
            if c.strip():
                channels.append(self._require_channel(c.strip()))
        with self._lock:
            files = []
            for item in items:
                f = self._files.get(str(item.get("id")))
                if f is None or f["data"] is None:
                    raise ApiError("file_not_found")
                if item.get("title"):
                    f["title"] = str(item["title"])
                files.append(f)
        base = environ["_base"]
        comment = str(params.get("initial_comment") or "")
        blocks = None if comment else params.get("blocks")  # Slack: a comment wins over blocks
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                raise ApiError("invalid_blocks_format") from None
        if blocks is not None and validate_blocks(blocks):
            raise ApiError("invalid_blocks", errors=validate_blocks(blocks))
        # Slack shows an uploaded file's messages already shared, in every channel it went to:
        # the shares are all recorded before any message is, so nobody reads one half made
        thread_ts = params.get("thread_ts") or None
        with self._cond:
            posted = [(cid, self._next_ts()) for cid in channels]
            for cid, ts in posted:
                for f in files:
                    f["shares"].setdefault(cid, []).append(
                        {
                            "ts": ts,
                            "channel_name": self._channel_name(cid),
                            "team_id": self.team_id,
                            "share_user_id": self.bot_user_id,
                            "reply_count": 0,
                            **({"thread_ts": thread_ts} if thread_ts else {}),
                        }
                    )
            for cid, ts in posted:
                self._store(
                    channel=cid,
                    user=self.bot_user_id,
                    text=comment,
                    blocks=blocks,
                    bot=True,
                    files=[self._file_obj(f, base) for f in files],
                    thread_ts=thread_ts,
                    origin="upload",
                    ts=ts,
                )
        with self._lock:
            return {"files": [self._file_obj(f, base) for f in files]}

    def _api_files_info(self, params: dict, environ: dict) -> dict:
        with self._lock:
            f = self._files.get(str(params.get("file")))
            if f is None or f["data"] is None:
                raise ApiError("file_not_found")
            return {"file": self._file_obj(f, environ["_base"])}

    def _handle_file(self, fid: str) -> Response:
        with self._lock:
            f = self._files.get(fid)
            data = f["data"] if f else None
            mimetype = f["mimetype"] if f else ""
            name = f["name"] if f else ""
        if data is None:
            return text_response("file_not_found", 404)
        safe = name.replace('"', "").replace("\r", "").replace("\n", "")
        return Response(
            200,
            data,
            mimetype,
            (
                ("Content-Disposition", f'inline; filename="{safe}"'),
                ("Cache-Control", "max-age=3600"),
            ),
        )
