"""A polite HTTP client: one request rate shared by every thread, a clear user agent,
per-request timeouts, and retries with exponential backoff and jitter.

What is retried: timeouts, dropped or refused connections (a body cut off mid-way
included), 429 (waiting at least as long as Retry-After asks, and slowing every thread
down, not just the one that was told) and 5xx. Any other 4xx is final: asking again
would only repeat the answer.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass

import requests

from popfusion import __version__

USER_AGENT = f"popfusion/{__version__} (+https://pypi.org/project/popfusion; research crawler)"


class FetchError(Exception):
    """An item that could not be fetched; ``reason`` is short and groups alike failures
    ('http 404', 'timeout', 'not an image', ...)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class CrawlSettings:
    """How hard to knock: requests per second over all threads, threads, retries."""

    rate: float = 1.0
    concurrency: int = 2
    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0  # seconds before the first retry, doubled each time, +-50% jitter
    max_wait: float = 300.0  # longest single wait, Retry-After included
    user_agent: str = USER_AGENT


class RateLimiter:
    """Hands out request slots at most ``rate`` per second, across threads."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"the request rate must be positive, not {rate}")
        self.interval = 1.0 / rate
        self.next_slot = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        time.sleep(max(0.0, slot - now))

    def pause(self, seconds: float) -> None:
        """No request from any thread for ``seconds`` (a server asked for it)."""
        with self.lock:
            self.next_slot = max(self.next_slot, time.monotonic() + seconds)


class PoliteClient:
    """GET with the shared rate limit and the retry policy above."""

    def __init__(self, settings: CrawlSettings | None = None, seed: int | None = None) -> None:
        self.settings = settings or CrawlSettings()
        self.limiter = RateLimiter(self.settings.rate)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = self.settings.user_agent
        self.random = random.Random(seed)

    def get(self, url: str, params: dict | None = None) -> requests.Response:
        """The response to a GET, body read in full; ``FetchError`` once retries run out
        or on a final answer (a 4xx other than 429)."""
        s, attempt = self.settings, 0
        while True:
            self.limiter.wait()
            try:
                response = self.session.get(url, params=params, timeout=s.timeout)
                _ = response.content  # a body cut off mid-way raises here, and is retried
            except requests.Timeout as err:
                failure, wait = FetchError("timeout", str(err)), None
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as err:
                failure, wait = FetchError("connection", str(err)), None
            else:
                code = response.status_code
                if code < 400:
                    return response
                failure = FetchError(f"http {code}", response.reason or "")
                if code != 429 and code < 500:
                    raise failure
                wait = retry_after(response.headers.get("Retry-After"))
                if wait is not None:
                    self.limiter.pause(min(wait, s.max_wait))
            if attempt == s.retries:
                raise failure
            time.sleep(self._backoff(attempt, wait))
            attempt += 1

    def _backoff(self, attempt: int, asked: float | None) -> float:
        jittered = self.settings.backoff * 2**attempt * self.random.uniform(0.5, 1.5)
        return min(max(jittered, asked or 0.0), self.settings.max_wait)


def retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (a number of seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
