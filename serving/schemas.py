"""Request and response models of the Recommender service (pydantic; they make the OpenAPI docs).

Every request may carry `request_id` (else the `X-Request-ID` header, else a new UUID4 is made):
1 to 128 characters from `A-Z a-z 0-9 . _ : / + = @ -` (a UUID, a ULID or a trace id fit; it is
echoed in a response header, so nothing else is accepted). Every answer, error or not, carries it
back (body and `X-Request-ID` header); successful answers also carry the model version, whether
the answer is personalized, and why not (`fallback_reason`, null when personalized). Item ids the
service does not know (in context, cart or exclusions) are reported in `unknown_item_ids`, never an
error.

Strict input: request bodies are JSON (`Content-Type: application/json`, else 415), fields are
checked without coercion (`"k": "3"` and `"k": true` are 400s, as is an unknown field). Every error
is an `ErrorResponse`: `{"error": text, "detail": [{"loc": [...], "msg": ..., "type": ...}],
"request_id": ...}`, 400 for invalid input naming the field, 404 for an unknown `item_id` /
`category` / `segment` to look up.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

# Ids are short opaque strings; bounding them bounds the work (and the cache keys) per request.
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
# Safe in an HTTP header and a log line (no spaces, controls or non-ASCII); serving/http.py checks
# the X-Request-ID header against the same pattern.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:/+=@-]{1,128}$"
ItemIds = Annotated[list[Id], Field(max_length=200)]
K = Annotated[int, Field(ge=1, le=100, description="how many items to return (1..100)")]
RequestId = Annotated[
    Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)] | None,
    Field(default=None, description="echoed back (body and X-Request-ID header); 1-128 of "
                                    "A-Z a-z 0-9 . _ : / + = @ -; default: the X-Request-ID "
                                    "header, else a new UUID4"),
]

Placement = Literal["homepage", "product_page", "cart", "email"]
FallbackReason = Literal["unknown_user", "no_consent", "experiment_control"]


class _Request(BaseModel):
    # strict: no coercion ("3" is not 3, true is not 1); unknown fields are errors.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


UserId = Annotated[Id | None, Field(default=None, description=(
    "the customer (pseudonymous id); with the event stream, their live events count at once"))]
AnonymousId = Annotated[Id | None, Field(default=None, description=(
    "the visitor's anonymous id (as in their events): without user_id, a visitor with events "
    "gets answers from them; with it, ignored (the customer's profile holds what was stitched)"))]


class _Visitor(_Request):
    """A request about a visitor: the customer's user_id, or an anonymous_id, or both."""

    @model_validator(mode="after")
    def _someone(self):
        if self.user_id is None and self.anonymous_id is None:  # an error at user_id, not []
            raise ValidationError.from_exception_data(type(self).__name__, [InitErrorDetails(
                type=PydanticCustomError("missing", "user_id or anonymous_id: one of them is "
                                                    "required"), loc=("user_id",), input=None)])
        return self


class RecommendContext(_Request):
    viewed_item_ids: ItemIds = Field(default_factory=list,
                                     description="items on screen (product_page): not recommended "
                                                 "again; unknown users get items like them")
    cart_item_ids: ItemIds = Field(default_factory=list,
                                   description="cart contents (cart): not recommended again; "
                                               "unknown users get items bought with them")


class RecommendRequest(_Visitor):
    user_id: UserId
    anonymous_id: AnonymousId
    placement: Placement = "homepage"
    k: K = 10
    context: RecommendContext = Field(default_factory=RecommendContext)
    exclude_item_ids: ItemIds = Field(default_factory=list)
    request_id: RequestId = None


class SimilarItemsRequest(_Request):
    item_id: Id
    k: K = 10
    exclude_item_ids: ItemIds = Field(default_factory=list)
    request_id: RequestId = None


class CrossSellRequest(_Request):
    cart_item_ids: Annotated[list[Id], Field(min_length=1, max_length=200)]
    user_id: Id | None = Field(default=None, description="optional: with consent, items the user "
                                                        "already bought follow the shop's rule, "
                                                        "and their ranking fills the list")
    anonymous_id: AnonymousId
    k: K = 10
    exclude_item_ids: ItemIds = Field(default_factory=list)
    request_id: RequestId = None


class HomepageRequest(_Visitor):
    user_id: UserId
    anonymous_id: AnonymousId
    k: Annotated[int, Field(ge=1, le=50, description="items per carousel (1..50)")] = 10
    request_id: RequestId = None


class PopularRequest(_Request):
    k: K = 10
    category: Id | None = Field(default=None, description="a top-level category (see 404 detail "
                                                          "for the known ones)")
    segment: Id | None = Field(default=None, description="a customer segment (new, active, loyal, "
                                                        "at_risk, churned) when the bundle has "
                                                        "segments")
    exclude_item_ids: ItemIds = Field(default_factory=list)
    request_id: RequestId = None


class ReloadRequest(_Request):
    request_id: RequestId = None


MAX_EVENTS = 1_000  # per POST /events


class EventsRequest(_Request):
    # Each event is checked on its own (ml.sources.contract.check_live_event), so that one bad
    # event is reported instead of failing its whole batch: hence `Any`, not a strict model.
    events: Annotated[list[Any], Field(min_length=1, max_length=MAX_EVENTS, description=(
        "events of the data contract: event_id, user_id and/or anonymous_id, session_id, "
        "item_id, event_type, occurred_at, quantity, price, order_id, dwell_seconds, placement, "
        "request_id"))]
    request_id: RequestId


class RejectedEvent(BaseModel):
    index: int  # position in the request's `events`
    event_id: str | None
    field: str
    reason: str  # a quarantine reason of the contract (ml.schema.QUARANTINE_REASONS) or invalid_*
    detail: str


class EventsResponse(BaseModel):
    request_id: str
    accepted: list[str]  # event ids now durably in the stream
    rejected: list[RejectedEvent]
    unknown_item_ids: list[str]  # accepted, kept, and marked: the catalog does not know them yet


class Item(BaseModel):
    item_id: str
    title: str
    score: float = Field(description="ranking score; comparable within one answer only")
    source: str = Field(description="what proposed the item: als | content | copurchase | repeat "
                                    "| trending | segment (popular in a category or a customer "
                                    "segment)")
    reason: str = Field(description='for people: "picked for you (als)", "similar to i00012", '
                                    '"bought together with i00042", "trending", ...')
    category: str


class _Answer(BaseModel):
    request_id: str
    model_version: str
    personalized: bool
    fallback_reason: FallbackReason | None = Field(
        default=None, description="why not personalized; null when personalized")
    unknown_item_ids: list[str] = Field(default_factory=list)
    cached: bool = Field(default=False, description="served from the answer cache")
    experiment: str | None = Field(default=None, description=(
        "the experiment running on this placement, if any (ml/experiments/design.py)"))
    variant: str | None = Field(default=None, description=(
        "the visitor's arm in it (sticky per visitor); null outside experiments and for "
        "visitors without personalization consent, who are left out of them"))


class ItemsResponse(_Answer):
    placement: str
    items: list[Item]


class Carousel(BaseModel):
    id: str = Field(description='"picked_for_you", "because_you_viewed_<item>", '
                                '"top_in_<category>", "trending"')
    title: str
    items: list[Item]


class HomepageResponse(_Answer):
    carousels: list[Carousel]


class ReloadResponse(BaseModel):
    request_id: str
    reloaded: bool
    model_version: str
    previous_version: str
    model_tag: str


class ErrorDetail(BaseModel):
    loc: list[str | int] = Field(description='where: a body field path (["context", '
                                             '"cart_item_ids", 0]) or ["header", name]')
    msg: str
    type: str = Field(description="pydantic's error type, or missing_header / invalid_header / "
                                  "unsupported_media_type / not_found / forbidden / ...")


class ErrorResponse(BaseModel):
    """Every non-2xx answer."""

    error: str
    detail: list[ErrorDetail]
    request_id: str


def error_body(message: str, loc: list[str], kind: str, request_id: str) -> dict:
    """An ErrorResponse with one detail, as JSON-ready data (what the service's own errors say)."""
    return {"error": message, "detail": [{"loc": loc, "msg": message, "type": kind}],
            "request_id": request_id}
