"""The classifier's LLM stage: an OpenAI-compatible chat client and the refiner that uses it.

``LLMClient`` posts to ``{base_url}/chat/completions`` (OpenAI, Ollama, vLLM and llama.cpp's server
all speak it), asks for JSON-schema output and falls back to JSON mode, then to a plain prompt,
when a server rejects that; it retries timeouts and 5xx answers with backoff and honours
``retry-after`` on 429. ``LLMRefiner`` asks it about the repositories whose model confidence is
below a threshold, several per request, with the most similar labelled examples as few-shot
context, a cache keyed by (text hash, prompt version, model), and a per-run budget. Whatever goes
wrong (dead endpoint, junk answers, spent budget) the model's label stands, flagged.

The API key goes only into the Authorization header; it is never logged.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from classifier import prompts, taxonomy
from classifier.fewshot import FewShotIndex
from classifier.labels import LabeledRepo, RepoText
from classifier.llm_cache import LLMCache
from classifier.model import Prediction
from stackatlas import metrics
from stackatlas.errors import BudgetExhaustedError, ConfigError, LLMError
from stackatlas.settings import Settings

log = logging.getLogger(__name__)

# Flags written on a prediction (and into classifications.flags) by this stage.
FLAG_FALLBACK = "llm_fallback"
FLAG_INVALID_CATEGORY = "llm_invalid_category"

# The ways of asking for JSON, best first; a server that rejects one with 400 gets the next.
FORMAT_JSON_SCHEMA = "json_schema"
FORMAT_JSON_OBJECT = "json_object"
FORMAT_PLAIN = "plain"
_FORMATS = (FORMAT_JSON_SCHEMA, FORMAT_JSON_OBJECT, FORMAT_PLAIN)

_MAX_BACKOFF_SECONDS = 30.0
_CODE_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class MalformedAnswerError(LLMError):
    """The endpoint answered, but not with the JSON asked for."""


@dataclass(frozen=True)
class ChatResult:
    """One chat completion: the text of the first choice and what it cost."""

    content: str
    prompt_tokens: int
    completion_tokens: int
    usage_reported: bool
    response_format: str

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LLMClient:
    """A small client of an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        *,
        backoff: float = 1.0,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.response_format = FORMAT_JSON_SCHEMA
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:  # never shows the key
        return f"LLMClient(base_url={self.base_url!r}, model={self.model!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def chat(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        max_tokens: int,
        grammar_schema: dict[str, Any] | None = None,
    ) -> ChatResult:
        """Send one chat request and return its first choice; raises ``LLMError`` on failure.

        ``grammar_schema``: a tighter schema for JSON mode, where servers such as llama.cpp
        compile it into a sampling grammar (bounds that strict json_schema mode may refuse).
        """
        try:
            result = self._chat(messages, schema, max_tokens, grammar_schema)
        except LLMError:
            metrics.count_llm_request("failed")
            raise
        metrics.count_llm_request("ok", result.prompt_tokens, result.completion_tokens)
        return result

    def _chat(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        max_tokens: int,
        grammar_schema: dict[str, Any] | None = None,
    ) -> ChatResult:
        while True:
            in_json_mode = self.response_format == FORMAT_JSON_OBJECT
            body = self._request_body(
                messages, grammar_schema if in_json_mode and grammar_schema else schema, max_tokens
            )
            response = self._post_with_retries(body)
            if _rejects_format(body, response) and self._downgrade_format(response):
                continue
            _raise_for_status(response)
            return _chat_result(response, self.response_format)

    def _request_body(
        self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": max_tokens,
        }
        if self.response_format == FORMAT_JSON_SCHEMA:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "repository_labels", "strict": True, "schema": schema},
            }
        elif self.response_format == FORMAT_JSON_OBJECT:
            # "schema" is llama-cpp-python's (and Anyscale's) way to constrain JSON mode
            body["response_format"] = {"type": "json_object", "schema": schema}
        return body

    def _downgrade_format(self, response: httpx.Response) -> bool:
        """Step down to the next way of asking for JSON; False when none is left."""
        position = _FORMATS.index(self.response_format)
        if position + 1 >= len(_FORMATS):
            return False
        log.info(
            "LLM endpoint rejected response_format %s (%d: %s); trying %s",
            self.response_format,
            response.status_code,
            _error_text(response),
            _FORMATS[position + 1],
        )
        self.response_format = _FORMATS[position + 1]
        return True

    def _post_with_retries(self, body: dict[str, Any]) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.post("/chat/completions", json=body)
            except httpx.LocalProtocolError:
                # h11 quotes the refused header value (the key) in its message: not chained.
                raise ConfigError(
                    "a request header holds characters HTTP cannot carry (often a line break "
                    "or space pasted into STACKATLAS_LLM_API_KEY)",
                    "set STACKATLAS_LLM_API_KEY again as one line without spaces",
                ) from None
            except httpx.TimeoutException as exc:
                failure: str = f"timed out after {self._http.timeout.read}s"
                wait = self._backoff_wait(attempt, failure, exc)
            except httpx.TransportError as exc:
                failure = f"unreachable ({type(exc).__name__}: {exc})"
                wait = self._backoff_wait(attempt, failure, exc)
            else:
                if _rejects_format(body, response):
                    return response
                if response.status_code == 429:
                    wait = self._rate_limit_wait(attempt, response)
                elif response.status_code >= 500:
                    failure = f"answered {response.status_code}: {_error_text(response)}"
                    wait = self._backoff_wait(attempt, failure, None)
                else:
                    return response
            attempt += 1
            self._sleep(wait)

    def _backoff_wait(self, attempt: int, failure: str, cause: Exception | None) -> float:
        if attempt >= self.max_retries:
            raise LLMError(
                f"LLM endpoint {self.base_url} {failure} ({attempt + 1} attempts)",
                "check that STACKATLAS_LLM_URL is up, or raise STACKATLAS_LLM_TIMEOUT",
            ) from cause
        wait = min(self.backoff * 2**attempt, _MAX_BACKOFF_SECONDS)
        log.warning("LLM endpoint %s; retrying in %.1fs", failure, wait)
        return wait

    def _rate_limit_wait(self, attempt: int, response: httpx.Response) -> float:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        wait = retry_after if retry_after is not None else self.backoff * 2**attempt
        if attempt >= self.max_retries or wait > self.max_wait:
            raise LLMError(
                f"LLM endpoint {self.base_url} is rate limiting (429, retry-after {wait:.0f}s)",
                "wait, lower STACKATLAS_LLM_BATCH_SIZE, or raise the endpoint's limits",
            )
        log.warning("LLM endpoint rate limited (429); waiting %.1fs", wait)
        return wait


def _rejects_format(body: dict[str, Any], response: httpx.Response) -> bool:
    """Whether the server refused the request's response_format (and would accept another).

    OpenAI-style servers answer 400, FastAPI-based ones 422, and llama-cpp-python's server a 500
    whose message names the field; a 500 without that is a server failure, retried elsewhere.
    """
    if "response_format" not in body:
        return False
    if response.status_code in (400, 422):
        return True
    return response.status_code >= 500 and "response_format" in response.text


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``retry-after`` header (delta seconds or an HTTP date)."""
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


def _error_text(response: httpx.Response) -> str:
    """The error message of an OpenAI-style error body, else the start of the body."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and "message" in error:
        return str(error["message"])[:200]
    return json.dumps(payload)[:200]


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    if response.status_code in (401, 403):
        raise LLMError(
            f"LLM endpoint refused the credentials ({response.status_code})",
            "check STACKATLAS_LLM_API_KEY",
        )
    raise LLMError(
        f"LLM endpoint answered {response.status_code}: {_error_text(response)}",
        "check STACKATLAS_LLM_URL and STACKATLAS_LLM_MODEL",
    )


def _chat_result(response: httpx.Response, response_format: str) -> ChatResult:
    try:
        payload = response.json()
        content = payload["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise MalformedAnswerError(
            "LLM endpoint answered without a chat completion",
            "check that STACKATLAS_LLM_URL points at an OpenAI-compatible …/v1 base URL",
        ) from exc
    content = content if isinstance(content, str) else ""
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else None
    if usage is not None:
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
    else:  # some servers omit usage: estimate so that the token budget still holds
        prompt_tokens = estimate_tokens(response.request.content.decode())
        completion_tokens = estimate_tokens(content)
    return ChatResult(content, prompt_tokens, completion_tokens, usage is not None, response_format)


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token) for budgeting before a request."""
    return len(text) // 4 + 1


# ---------------------------------------------------------------------------------------------
# Reading answers


@dataclass(frozen=True)
class LLMAnswer:
    """One repository's answer, checked against the taxonomy."""

    category: str
    subcategory: str
    confidence: float
    rationale: str

    def as_cache_entry(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "subcategory": self.subcategory,
            "confidence": self.confidence,
            "rationale": self.rationale,
        }


class InvalidCategoryError(ValueError):
    """An answer names a category outside the taxonomy."""


def parse_answer_rows(content: str) -> list[dict[str, Any]]:
    """The answer objects in a completion's text; ``MalformedAnswerError`` when there are none.

    Accepts ``{"answers": [...]}`` (what is asked for), a bare list, or a single answer object,
    optionally wrapped in a Markdown code fence or preceded by prose.
    """
    payload = _first_json_value(content)
    if isinstance(payload, dict) and isinstance(payload.get("answers"), list):
        rows = payload["answers"]
    elif isinstance(payload, dict) and "category" in payload:
        rows = [payload]
    elif isinstance(payload, list):
        rows = payload
    else:
        raise MalformedAnswerError(
            "LLM answer is JSON without an 'answers' list",
            "use a model that follows JSON instructions, or check STACKATLAS_LLM_MODEL",
        )
    return [row for row in rows if isinstance(row, dict)]


def _first_json_value(content: str) -> Any:
    text = content.strip()
    fenced = _CODE_FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if starts:
        try:
            return json.JSONDecoder().raw_decode(text, min(starts))[0]
        except json.JSONDecodeError:
            pass
    raise MalformedAnswerError(
        f"LLM answer is not valid JSON: {text[:80]!r}",
        "use a model that follows JSON instructions, or check STACKATLAS_LLM_MODEL",
    )


def match_rows(rows: Sequence[dict[str, Any]], batch: Sequence[RepoText]) -> dict[int, dict]:
    """Answer rows by batch position (0-based): by the id given (1..n), else by full_name."""
    by_name = {repo.full_name.lower(): position for position, repo in enumerate(batch)}
    matched: dict[int, dict[str, Any]] = {}
    for row in rows:
        position = _position_of(row, by_name, len(batch))
        if position is not None and position not in matched:
            matched[position] = row
    return matched


def _position_of(row: dict[str, Any], by_name: dict[str, int], size: int) -> int | None:
    name = row.get("full_name")
    if isinstance(name, str) and name.strip().lower() in by_name:
        return by_name[name.strip().lower()]
    raw_id = row.get("id")
    try:
        position = int(raw_id) - 1  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return position if 0 <= position < size else None


def read_answer(row: dict[str, Any]) -> LLMAnswer:
    """Check one answer row; ``InvalidCategoryError`` when its category is not in the taxonomy."""
    category = str(row.get("category") or "").strip().lower()
    if category not in taxonomy.CATEGORIES:
        raise InvalidCategoryError(category)
    return LLMAnswer(
        category=category,
        subcategory=taxonomy.normalise_subcategory(category, _text(row.get("subcategory"))),
        confidence=_confidence(row.get("confidence")),
        rationale=" ".join(_text(row.get("rationale")).split())[:300],
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _confidence(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.5  # the model did not say; neither sure nor unsure
    if number > 1 and number <= 100:  # some models answer in percent
        number /= 100
    return min(max(number, 0.0), 1.0)


# ---------------------------------------------------------------------------------------------
# The refiner


@dataclass
class LLMStats:
    """What one ``refine`` call did and cost."""

    candidates: int = 0  # predictions below the confidence threshold
    sent: int = 0  # repositories put into requests
    cache_hits: int = 0
    answered: int = 0  # LLM labels given (fresh or cached)
    fallbacks: int = 0  # candidates that kept the model label
    fallback_reasons: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    failed_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    budget_exhausted: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def count_fallback(self, reason: str, count: int = 1) -> None:
        self.fallbacks += count
        self.fallback_reasons[reason] = self.fallback_reasons.get(reason, 0) + count


# Reasons a candidate keeps its model label.
REASON_BUDGET = "budget_exhausted"
REASON_UNAVAILABLE = "endpoint_unavailable"
REASON_MALFORMED = "malformed_answer"
REASON_MISSING = "missing_answer"
REASON_INVALID_CATEGORY = "invalid_category"

LLM_MAX_RETRIES = 2
FEW_SHOT_EXAMPLES = 8


@dataclass
class _Batch:
    positions: list[int]  # indexes into the texts and predictions of the run
    texts: list[RepoText]
    fingerprints: list[str]


class LLMRefiner:
    """Asks the LLM about low-confidence predictions; the model label stands whenever it fails."""

    def __init__(
        self,
        client: LLMClient,
        examples: Sequence[LabeledRepo],
        cache: LLMCache,
        threshold: float = 0.6,
        batch_size: int = 10,
        max_requests: int = 200,
        max_tokens: int = 400_000,
        *,
        few_shot: int = FEW_SHOT_EXAMPLES,
    ) -> None:
        self.client = client
        self.cache = cache
        self.threshold = threshold
        self.batch_size = max(1, batch_size)
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.few_shot = FewShotIndex(examples, k=few_shot)

    @classmethod
    def from_settings(
        cls, settings: Settings, examples: Sequence[LabeledRepo], cache: LLMCache
    ) -> LLMRefiner | None:
        """The refiner the settings describe, or None when no LLM endpoint is configured."""
        if not settings.llm_url:
            return None
        api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        client = LLMClient(
            settings.llm_url,
            settings.llm_model,
            api_key,
            timeout=settings.llm_timeout,
            max_retries=LLM_MAX_RETRIES,
        )
        return cls(
            client,
            examples,
            cache,
            threshold=settings.llm_threshold,
            batch_size=settings.llm_batch_size,
            max_requests=settings.llm_max_requests,
            max_tokens=settings.llm_max_tokens,
        )

    @classmethod
    def required(
        cls, settings: Settings, examples: Sequence[LabeledRepo], cache: LLMCache
    ) -> LLMRefiner:
        """The refiner for an explicit --llm: a clear error when no endpoint is configured."""
        refiner = cls.from_settings(settings, examples, cache)
        if refiner is None:
            raise ConfigError(
                "--llm needs an LLM endpoint", "set STACKATLAS_LLM_URL (see .env.example)"
            )
        return refiner

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> LLMRefiner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def refine(
        self, texts: Sequence[RepoText], predictions: Sequence[Prediction]
    ) -> tuple[list[Prediction], LLMStats]:
        """Predictions with the LLM's label where the model was unsure, and what that cost."""
        if len(texts) != len(predictions):
            raise ValueError(f"{len(texts)} texts but {len(predictions)} predictions")
        refined = list(predictions)
        stats = LLMStats()
        pending = self._candidates(predictions)
        stats.candidates = len(pending)
        pending = self._apply_cached(texts, refined, pending, stats)
        stop_reason: str | None = None  # once set, the remaining batches are not sent
        for batch in self._batches(texts, pending):
            if stop_reason is not None:
                self._fall_back(refined, batch.positions, stop_reason, stats)
                continue
            try:
                self._ask(batch, refined, stats)
            except BudgetExhaustedError as exc:
                log.warning("LLM budget spent, model labels kept: %s", exc.message)
                stats.budget_exhausted = True
                stop_reason = REASON_BUDGET
                self._fall_back(refined, batch.positions, stop_reason, stats)
            except MalformedAnswerError as exc:
                log.warning("LLM answer unusable, model labels kept: %s", exc.message)
                stats.failed_requests += 1
                self._fall_back(refined, batch.positions, REASON_MALFORMED, stats)
            except LLMError as exc:
                log.warning("LLM endpoint failed, model labels kept: %s", exc.one_line())
                stats.failed_requests += 1
                stop_reason = REASON_UNAVAILABLE
                self._fall_back(refined, batch.positions, stop_reason, stats)
        log.info(
            "LLM stage: %d below %.2f, %d cached, %d sent in %d requests, %d tokens, %d fallbacks",
            stats.candidates,
            self.threshold,
            stats.cache_hits,
            stats.sent,
            stats.requests,
            stats.total_tokens,
            stats.fallbacks,
        )
        return refined, stats

    def _candidates(self, predictions: Sequence[Prediction]) -> list[int]:
        """The unsure predictions, most important to the counts first (``count_priority``), so
        that a budget that runs out leaves the least important ones with the model label."""
        unsure = [
            position
            for position, prediction in enumerate(predictions)
            if prediction.method != "human" and prediction.confidence < self.threshold
        ]
        return count_priority(predictions, unsure)

    def _apply_cached(
        self,
        texts: Sequence[RepoText],
        refined: list[Prediction],
        pending: list[int],
        stats: LLMStats,
    ) -> list[int]:
        """Use cached answers; returns the positions still to ask about."""
        fingerprints = {
            position: prompts.repository_fingerprint(texts[position]) for position in pending
        }
        cached = self.cache.get_many(
            set(fingerprints.values()), prompts.PROMPT_VERSION, self.client.model
        )
        still_pending = []
        for position in pending:
            entry = cached.get(fingerprints[position])
            answer = _cached_answer(entry) if entry is not None else None
            if answer is None:
                still_pending.append(position)
                continue
            stats.cache_hits += 1
            stats.answered += 1
            refined[position] = self._llm_prediction(refined[position], answer)
        return still_pending

    def _batches(self, texts: Sequence[RepoText], pending: list[int]) -> list[_Batch]:
        batches = []
        for start in range(0, len(pending), self.batch_size):
            positions = pending[start : start + self.batch_size]
            batch_texts = [texts[position] for position in positions]
            fingerprints = [prompts.repository_fingerprint(text) for text in batch_texts]
            batches.append(_Batch(positions, batch_texts, fingerprints))
        return batches

    def _ask(self, batch: _Batch, refined: list[Prediction], stats: LLMStats) -> None:
        examples = self.few_shot.nearest(batch.texts)
        messages = prompts.build_messages(batch.texts, examples)
        completion_tokens = prompts.completion_budget(len(batch.texts))
        self._check_budget(messages, completion_tokens, stats)
        log.debug(
            "LLM prompt (prompt %s, model %s):\n%s",
            prompts.PROMPT_VERSION,
            self.client.model,
            messages[-1]["content"],
        )
        stats.requests += 1
        stats.sent += len(batch.texts)
        result = self.client.chat(messages, prompts.answer_schema(), completion_tokens,
                                  prompts.bounded_answer_schema(len(batch.texts)))
        stats.prompt_tokens += result.prompt_tokens
        stats.completion_tokens += result.completion_tokens
        log.debug(
            "LLM answer (prompt %s, model %s, %d tokens):\n%s",
            prompts.PROMPT_VERSION,
            self.client.model,
            result.total_tokens,
            result.content,
        )
        rows = match_rows(parse_answer_rows(result.content), batch.texts)
        self._apply_answers(batch, rows, refined, stats)

    def _check_budget(
        self, messages: list[dict[str, str]], completion_tokens: int, stats: LLMStats
    ) -> None:
        if stats.requests >= self.max_requests:
            raise BudgetExhaustedError(
                f"{stats.requests} of {self.max_requests} LLM requests used",
                "raise STACKATLAS_LLM_MAX_REQUESTS or run again (cached answers are free)",
            )
        expected = sum(estimate_tokens(m["content"]) for m in messages) + completion_tokens
        if stats.total_tokens + expected > self.max_tokens:
            raise BudgetExhaustedError(
                f"{stats.total_tokens} of {self.max_tokens} LLM tokens used; the next request "
                f"needs about {expected}",
                "raise STACKATLAS_LLM_MAX_TOKENS or run again (cached answers are free)",
            )

    def _apply_answers(
        self,
        batch: _Batch,
        rows: dict[int, dict[str, Any]],
        refined: list[Prediction],
        stats: LLMStats,
    ) -> None:
        fresh: dict[str, dict[str, Any]] = {}
        for index, position in enumerate(batch.positions):
            row = rows.get(index)
            if row is None:
                self._fall_back(refined, [position], REASON_MISSING, stats)
                continue
            try:
                answer = read_answer(row)
            except InvalidCategoryError as exc:
                log.warning(
                    "LLM named unknown category %r for %s; model label kept",
                    str(exc),
                    batch.texts[index].full_name,
                )
                self._fall_back(
                    refined,
                    [position],
                    REASON_INVALID_CATEGORY,
                    stats,
                    extra_flag=FLAG_INVALID_CATEGORY,
                )
                continue
            model_label = refined[position]
            log.debug(
                "LLM label for %s: %s/%s (%.2f; model said %s %.2f) [prompt %s]: %s",
                batch.texts[index].full_name,
                answer.category,
                answer.subcategory or "-",
                answer.confidence,
                model_label.category,
                model_label.confidence,
                prompts.PROMPT_VERSION,
                answer.rationale,
            )
            stats.answered += 1
            refined[position] = self._llm_prediction(model_label, answer)
            fresh[batch.fingerprints[index]] = answer.as_cache_entry()
        self.cache.put_many(fresh, prompts.PROMPT_VERSION, self.client.model)

    def _llm_prediction(self, prediction: Prediction, answer: LLMAnswer) -> Prediction:
        return replace(
            prediction,
            layer=taxonomy.layer_of(answer.category),
            category=answer.category,
            subcategory=answer.subcategory,
            confidence=answer.confidence,
            method="llm",
            model_version=self.client.model,
            prompt_version=prompts.PROMPT_VERSION,
            rationale=answer.rationale,
            flags=None,
        )

    @staticmethod
    def _fall_back(
        refined: list[Prediction],
        positions: Sequence[int],
        reason: str,
        stats: LLMStats,
        *,
        extra_flag: str | None = None,
    ) -> None:
        flags = [FLAG_FALLBACK, f"reason={reason}"] + ([extra_flag] if extra_flag else [])
        for position in positions:
            refined[position] = replace(refined[position], flags=",".join(flags))
        stats.count_fallback(reason, len(positions))


# The categories the charts count; tutorials, lists and other sit in no layer of the stack.
COUNTED_CATEGORIES = tuple(c for c in taxonomy.CATEGORIES if taxonomy.layer_of(c) != "none")


def count_priority(predictions: Sequence[Prediction], positions: Sequence[int]) -> list[int]:
    """``positions`` ordered by what an LLM answer is worth to the category counts, most first.

    Worth = the chance the label is wrong (1 − confidence) × the weight of one repository in the
    relative count error of its category: 1 / the number of repositories given that category in
    this run, so that a doubt in a small category (where one error moves the count most) goes
    first. A label outside the counted categories weighs as much as the mean counted one: if it
    is wrong, it is most likely one of them. Ties keep the given order.
    """
    sizes = {c: 0 for c in COUNTED_CATEGORIES}
    for prediction in predictions:
        if prediction.category in sizes:
            sizes[prediction.category] += 1
    weights = {c: 1.0 / max(1, n) for c, n in sizes.items()}
    uncounted = sum(weights.values()) / len(weights)

    def worth(position: int) -> float:
        prediction = predictions[position]
        weight = weights.get(prediction.category, uncounted)
        return (1.0 - prediction.confidence) * weight

    return sorted(positions, key=lambda position: -worth(position))


def _cached_answer(entry: dict[str, Any]) -> LLMAnswer | None:
    try:
        return read_answer(entry)
    except InvalidCategoryError:  # cached under an older taxonomy: ask again
        return None
