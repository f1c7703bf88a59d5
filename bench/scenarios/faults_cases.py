"""The fault cases of bench/faults.py: what goes wrong, and what the user should get.

Each case is one spoken turn through Home Assistant's assist pipeline (test_faults.py) while one
thing misbehaves: the agent's provider (its replies, as a misbehaving server sends them), the
voice (a Wyoming server that lies), the camera a look uses, or the disk under the ledger. A case
with a backup has a second provider (or voice) in the chain, where a fallback is the answer;
without one, an apology (or the error earcon) is.

`patience` is how long a fault takes before it is one: a provider silent past the chain's
first-token limit, a camera past its time-out. The fault's moment is when the faulty answer
came (or that patience ran out); the answer should follow within 3 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import json
from pathlib import Path

from custom_components.anima.core.profiles import DEFAULT_MAX_TOKENS
from custom_components.anima.core.routing import DEFAULT_APOLOGY, OUTPUT_APOLOGY
from custom_components.anima.runtime.calls import CHARACTERS_PER_TOKEN
from custom_components.anima.runtime.frames import CAMERA_TIMEOUT
from tests.fakes.openai_server import Reply
from tests.fakes.wyoming_servers import HTTP_400, OVERSIZED_CHUNK

QUESTION = "What is the weather like today?"
LOOK_QUESTION = "What do you see on the porch?"
ANSWER = "It is sunny and twenty degrees today, a fine day for a walk in the park."
BACKUP_ANSWER = "The backup service says: sunny and twenty degrees today."
AGAIN_ANSWER = "Asked again in words: sunny and twenty degrees today."
CAMERA_ANSWER = "I could not see the porch just now, sorry."
STREAMED = "and on and on "
_STRINGS = Path(__file__).parents[2] / "custom_components" / "anima" / "translations" / "en.json"
APOLOGY = json.loads(_STRINGS.read_text(encoding="utf-8"))["exceptions"]["no_answer"]["message"]
APOLOGIES = (DEFAULT_APOLOGY.strip(), OUTPUT_APOLOGY.strip())
#: The longest answer the agent lets through (max_tokens, counted generously).
CAP_CHARACTERS = DEFAULT_MAX_TOKENS * CHARACTERS_PER_TOKEN
#: The chain's first-token limit (runtime/connections.py's default).
FIRST_TOKEN_LIMIT = 15.0


class Expect(StrEnum):
    """What the user should get."""

    FALLBACK = "the backup's answer"
    APOLOGY = "the spoken apology"
    AGAIN = "the model asked again, in words"
    PARTIAL = "what was said, then an apology"
    CAPPED = "the answer, cut at max_tokens"
    ANSWER = "the answer"
    SPOKEN = "the answer, in the backup voice"
    EARCON = "the error earcon"


@dataclass(frozen=True)
class Case:
    """One fault, and what the user should get."""

    name: str
    fault: str
    expect: Expect
    backup: bool = True
    #: The agent provider's chat replies, in order.
    replies: tuple[Reply, ...] = ()
    patience: float = 0.0
    kind: str = "llm"  # llm, voice, camera, disk
    #: The voice's answer to a synthesis (voice cases), and filler sent after it.
    lie: bytes = b""
    filler: int = 0

    @property
    def id(self) -> str:
        """The case's name, and whether it had a backup."""
        return f"{self.name}{'' if self.backup else '/alone'}"


#: Failures of the provider before it says anything: the backup answers, else the apology.
_BEFORE_SPEAKING = (
    ("401", "HTTP 401: the key refused", Reply.error(401), 0.0),
    ("429", "HTTP 429 with Retry-After: 30", Reply.rate_limited(30), 0.0),
    ("500", "HTTP 500", Reply.error(500), 0.0),
    ("502", "HTTP 502", Reply.error(502), 0.0),
    ("503", "HTTP 503", Reply.error(503), 0.0),
    (
        "first_token_timeout",
        f"no first token within the chain's {FIRST_TOKEN_LIMIT:g} s",
        Reply.text(ANSWER, first_token_delay=FIRST_TOKEN_LIMIT + 10),
        FIRST_TOKEN_LIMIT,
    ),
    ("reset_before_first_token", "connection reset before the first token", Reply.disconnect(0), 0),
    ("malformed_sse", "a stream line that is not JSON", Reply.malformed(after_chunks=1), 0.0),
    ("html_200", "a web page with HTTP 200 (a router's login)", Reply.web_page(), 0.0),
    ("endless_line", "one 100 MB stream line without a newline", Reply.endless_line(), 0.0),
)
#: The model's own failures before it says anything: the backup answers, else it is asked again.
_MODEL_FAILURES = (
    ("error_event", "an error event before any text (llama-server)", Reply.error_event(1)),
    (
        "tool_broken_json",
        "a tool call whose arguments are not JSON",
        Reply.tool_call("HassTurnOn", '{"name": "kitchen'),
    ),
    (
        "tool_giant_arguments",
        "a tool call with 2 MB of arguments",
        Reply.tool_call("HassTurnOn", {"name": "kitchen " * 250_000}),
    ),
)

_LOOK = Reply.tool_call("anima__look", {"question": "What do you see?"})

CASES: tuple[Case, ...] = (
    *(
        Case(name, fault, Expect.FALLBACK if backup else Expect.APOLOGY, backup, (reply,), wait)
        for name, fault, reply, wait in _BEFORE_SPEAKING
        for backup in (True, False)
    ),
    *(
        Case(
            name,
            fault,
            Expect.FALLBACK if backup else Expect.AGAIN,
            backup,
            (reply, Reply.text(AGAIN_ANSWER)),
        )
        for name, fault, reply in _MODEL_FAILURES
        for backup in (True, False)
    ),
    Case(
        "reset_after_first_token",
        "connection reset after the first words",
        Expect.PARTIAL,
        replies=(Reply.disconnect(4, text=ANSWER),),
    ),
    Case(
        "error_event_mid_answer",
        "an error event after the first words",
        Expect.PARTIAL,
        replies=(Reply.error_event(3),),
    ),
    Case(
        "endless_stream", "an answer without end", Expect.CAPPED, replies=(Reply.endless(STREAMED),)
    ),
    Case(
        "giant_stream",
        "a 50 MB answer",
        Expect.CAPPED,
        replies=(Reply.giant(50, text=STREAMED),),
    ),
    *(
        Case(name, fault, Expect.SPOKEN if backup else Expect.EARCON, backup, kind="voice", lie=lie)
        for name, fault, lie in (
            ("voice_garbage", "the voice's Wyoming server answers an HTTP error page", HTTP_400),
            ("voice_oversized", "the voice announces a 2 GB audio chunk", OVERSIZED_CHUNK),
        )
        for backup in (True, False)
    ),
    Case(
        "camera_missing",
        "a look through a satellite with no camera",
        Expect.ANSWER,
        replies=(_LOOK,),
        kind="camera",
    ),
    Case(
        "camera_slow",
        f"a look through a camera that gives no frame in its {CAMERA_TIMEOUT} s",
        Expect.ANSWER,
        replies=(_LOOK,),
        kind="camera",
        patience=CAMERA_TIMEOUT,
    ),
    Case("disk_full", "the disk refuses the ledger's save", Expect.ANSWER, kind="disk"),
)


def got(heard: str, earcon: bool, backup_voice: bool) -> Expect | None:
    """What the user got, from what was said and how; None for anything else (silence)."""
    if earcon:
        return Expect.EARCON
    answers = {
        BACKUP_ANSWER: Expect.FALLBACK,
        APOLOGY: Expect.APOLOGY,
        AGAIN_ANSWER: Expect.AGAIN,
        CAMERA_ANSWER: Expect.ANSWER,
        ANSWER: Expect.SPOKEN if backup_voice else Expect.ANSWER,
    }
    if heard in answers:
        return answers[heard]
    if heard.endswith(APOLOGIES) and len(heard) > len(max(APOLOGIES, key=len)):
        return Expect.PARTIAL
    if heard.startswith(STREAMED.strip()) and len(heard) <= CAP_CHARACTERS:
        return Expect.CAPPED
    return None
