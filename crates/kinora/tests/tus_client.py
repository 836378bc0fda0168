#!/usr/bin/env python3
"""Drives tuspy (the tus project's Python client) against a Kinora server for the
end-to-end tests. Prints JSON: {"url", "offset", "video_id"}.

usage: KINORA_TOKEN=... tus_client.py BASE FILE [--url URL] [--stop-at N] [--chunk N] [--checksum]
                      [--caption C] [--visibility V] [--filename F]
"""
import argparse, json, os, sys

import requests
from tusclient import client


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("file")
    ap.add_argument("--url")
    ap.add_argument("--stop-at", type=int)
    ap.add_argument("--chunk", type=int, default=256 * 1024)
    ap.add_argument("--checksum", action="store_true")
    ap.add_argument("--caption", default="")
    ap.add_argument("--visibility", default="public")
    ap.add_argument("--filename", default="clip.mp4")
    a = ap.parse_args()
    # The token comes from the environment: it may start with "-", which argv parsing
    # would take for an option.
    headers = {"Authorization": "Bearer " + os.environ["KINORA_TOKEN"]}
    c = client.TusClient(a.base + "/api/v1/uploads", headers=headers)
    kw = dict(chunk_size=a.chunk, upload_checksum=a.checksum,
              metadata={"filename": a.filename, "caption": a.caption, "visibility": a.visibility})
    if a.url:
        kw["url"] = a.url
    up = c.uploader(a.file, **kw)
    if a.stop_at:
        up.upload(stop_at=a.stop_at)
    else:
        up.upload()
    h = requests.head(up.url, headers={**headers, "Tus-Resumable": "1.0.0"})
    print(json.dumps({"url": up.url, "offset": int(h.headers.get("Upload-Offset", -1)),
                      "video_id": h.headers.get("Kinora-Video-Id")}))


if __name__ == "__main__":
    sys.exit(main())
