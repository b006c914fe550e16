"""Peak memory of one hostile fetch (issue 27, rows 7 and 8), each case in a fresh process.

    python -m benchmarks.fetch_bounds gzip    # a ~194 KB gzip body that decodes to 200 MB
    python -m benchmarks.fetch_bounds page    # a 4.9 MB page of links, extracted

Prints one JSON line: the process's peak RSS growth during the fetch (ru_maxrss after a warm-up
fetch of a small page, then after the case), the time taken, the outcome, and for `page` the
extraction worker's peak RSS (it runs in a child process, stopped at its time budget).
Everything is on loopback (tests/news_site.py).
"""

from __future__ import annotations

import inspect
import json
import resource
import sys
import time


def _rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _gzip_zeros(n: int) -> bytes:
    """n zero bytes, gzipped a megabyte at a time (building them whole would set the peak itself)."""
    import zlib

    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * 1_000_000
    parts = [z.compress(block) for _ in range(n // len(block))]
    return b"".join([*parts, z.flush()])


def main() -> None:
    case = sys.argv[1] if len(sys.argv) > 1 else "gzip"
    from rag.config import Settings
    from rag.feeds import fetcher_from_settings
    from rag.web import page_article
    from tests.news_site import NewsSite, article_html

    site = NewsSite().start()
    site.robots = ""
    site.set("/small", article_html(site.base, "orsk-library"))
    settings = Settings(fetch_allow_private=True, fetch_host_delay_s=0, fetch_retries=0, fetch_timeout_s=30)
    fetcher = fetcher_from_settings(settings)
    p = fetcher.policy
    # the same script measures the code before issue 27 (PYTHONPATH=<old checkout>), which had no limits
    limits = ({"max_chars": p.max_text_chars, "timeout_s": p.extract_timeout_s}
              if "max_chars" in inspect.signature(page_article).parameters else {})
    page_article(fetcher.get(f"{site.base}/small"), **limits)
    if case == "gzip":
        site.set("/bomb", _gzip_zeros(200_000_000), "application/rss+xml", headers={"Content-Encoding": "gzip"})
        size = len(site.routes["/bomb"].body)
    else:
        row = '<li><a href="/l/{i}">Link number {i} of the directory</a></li>\n'
        rows, n, i = [], 0, 0
        while n < 4_900_000:
            line = row.format(i=i)
            rows.append(line)
            n += len(line)
            i += 1
        site.set("/bomb", "<html><head><title>Directory</title></head><body><ul>" + "".join(rows)
                 + "</ul></body></html>")
        size = len(site.routes["/bomb"].body)
    before = _rss_mb()
    started = time.monotonic()
    try:
        response = fetcher.get(f"{site.base}/bomb")
        outcome = f"fetched {len(response.body):,} bytes"
        if case == "page":
            article = page_article(response, **limits)
            outcome += f"; {len(article.text):,} characters of text"
    except Exception as exc:  # noqa: BLE001 - the outcome is the point
        outcome = f"{type(exc).__name__}: {exc}"
    took = time.monotonic() - started
    worker_mb = 0.0
    try:  # the extraction worker's own peak, while it still runs (a stopped one is in RUSAGE_CHILDREN)
        import rag.extract

        for proc in getattr(rag.extract._pool, "_pool", None) or []:
            with open(f"/proc/{proc.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        worker_mb = max(worker_mb, int(line.split()[1]) / 1024)
    except (ImportError, OSError):
        pass
    print(json.dumps({"case": case, "body_bytes_on_wire": size, "peak_rss_growth_mb": round(_rss_mb() - before, 1),
                      "peak_rss_mb": round(_rss_mb(), 1), "worker_peak_rss_mb": round(max(worker_mb, _rss_mb(
                          resource.RUSAGE_CHILDREN)), 1), "seconds": round(took, 1), "outcome": outcome[:300]}))
    site.stop()


if __name__ == "__main__":
    main()
