"""The synthetic store: Tailor's built-in demo shop, generated from a hidden truth.

Generative story (everything drawn from one `numpy.random.default_rng(seed)`):

1. Catalog. Six top categories split into 3-4 subcategories each; 30 brands, each tied to one top
   category and to a tier (premium / mid / budget). An item gets a subcategory, a brand, a price
   (lognormal around the subcategory's typical price, scaled by the brand tier), a hidden `appeal`,
   and a `created_at`: ~70% existed before the window, the rest arrive during it.
2. Customers. Each user has a lifecycle type (new, loyal, bargain_hunter, churner, casual) that
   sets when they are active, how often they visit and how readily they buy; a Dirichlet taste over
   subcategories concentrated on 1-3 of them; a price sensitivity; demographics and consent flags.
3. Sessions. Visits arrive as a Poisson process per user, shaped by weekday (weekends busier), hour
   of day and a mild yearly / holiday bump. A session has an intent subcategory (the user's taste,
   15% exploration); each view picks an item of a subcategory by appeal x popularity so far
   (rich-get-richer, updated week by week) x price fit x recency, and never an item that did not
   exist yet. Dwell, add-to-cart and purchase odds grow with taste fit; most carts are abandoned.
   Users with a taste for consumables (coffee, tea, pet food, skincare) come back on a cycle to
   rebuy their "staple" item; loyal users do so most.

The result has exactly the columns and dtypes of `ml.schema`. The hidden truth (tastes, lifecycle,
appeal, staples, session intents) is returned separately in `SyntheticStore.truth` so that
evaluations and visitor simulations can use it; it is never joined into the events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.schema import CATEGORY_SEPARATOR, CUSTOMER_COLUMNS, EVENT_COLUMNS, PRODUCT_COLUMNS

__all__ = ["SyntheticParams", "SyntheticStore", "generate_store", "CATALOG", "LIFECYCLES"]

DAY = 86_400.0

# --------------------------------------------------------------------------------------------------
# Word lists and catalog structure
# --------------------------------------------------------------------------------------------------


# top -> subcategory -> spec. `price` is the typical (median) price of a mid-tier item, `weight` the
# relative size of the assortment, `cycle` the rebuy period in days of a consumable (0 = durable),
# `style` the description template (see DESCRIPTION); each material / use suits each noun.
def _sub(price, weight, style, nouns, materials, uses, cycle=0, adjectives=None):
    return dict(
        price=price,
        weight=weight,
        cycle=cycle,
        style=style,
        nouns=nouns,
        materials=materials,
        uses=uses,
        adjectives=adjectives,
    )


CATALOG: dict[str, dict[str, dict]] = {
    "home": {
        "kitchen": _sub(
            35,
            1.4,
            "made",
            ["Skillet", "Saucepan", "Stockpot", "Kettle", "Saute Pan", "Wok"],
            [
                "stainless steel",
                "carbon steel",
                "tri-ply steel",
                "hard-anodised aluminium",
                "enamelled cast iron",
            ],
            ["everyday cooking", "weekend batch cooking", "induction hobs", "dinner parties"],
        ),
        "bedding": _sub(
            55,
            1.0,
            "made",
            ["Duvet Cover", "Sheet Set", "Pillowcase Set", "Throw Blanket", "Quilt"],
            ["washed linen", "organic cotton", "bamboo lyocell", "cotton percale"],
            ["cool summer nights", "cosy winter evenings", "the guest room"],
        ),
        "decor": _sub(
            32,
            1.0,
            "made",
            ["Vase", "Planter", "Serving Bowl", "Candle Holder", "Tray"],
            ["glazed ceramic", "brushed brass", "recycled glass", "terracotta"],
            ["a bright living room", "the mantelpiece", "a dining table centrepiece"],
        ),
        "lighting": _sub(
            60,
            0.8,
            "made",
            ["Table Lamp", "Floor Lamp", "Pendant Light", "Desk Lamp", "Wall Sconce"],
            ["brushed brass", "opal glass", "powder-coated steel", "solid oak"],
            ["late-night reading", "soft evening light", "the home office"],
        ),
    },
    "fashion": {
        "shoes": _sub(
            85,
            1.2,
            "made",
            ["Sneaker", "Chelsea Boot", "Loafer", "Derby Shoe", "Hiking Boot"],
            ["full-grain leather", "suede", "nubuck", "vegan leather"],
            ["everyday wear", "city walking", "weekend trips", "all-day comfort"],
        ),
        "outerwear": _sub(
            140,
            0.9,
            "made",
            ["Parka", "Overshirt", "Field Jacket", "Gilet", "Overcoat"],
            ["merino wool", "recycled nylon", "waxed cotton", "organic cotton twill"],
            ["wet commutes", "cold mornings", "weekends outdoors"],
        ),
        "accessories": _sub(
            30,
            1.1,
            "made",
            ["Belt", "Wallet", "Tote Bag", "Card Holder", "Backpack"],
            ["vegetable-tanned leather", "full-grain leather", "recycled canvas", "recycled nylon"],
            ["everyday carry", "travel", "gifting"],
        ),
        "activewear": _sub(
            45,
            1.0,
            "made",
            ["Leggings", "Training Tee", "Running Shorts", "Sports Bra", "Track Jacket"],
            ["quick-dry polyester", "recycled nylon", "a merino blend", "stretch jersey"],
            ["gym sessions", "yoga", "running", "interval training"],
        ),
    },
    "electronics": {
        "audio": _sub(
            90,
            1.0,
            "finish",
            ["Wireless Earbuds", "Over-Ear Headphones", "Bluetooth Speaker", "Soundbar"],
            ["matte", "soft-touch", "brushed aluminium", "fabric-wrapped"],
            ["commuting", "movie nights", "focus at work"],
        ),
        "phone accessories": _sub(
            22,
            1.2,
            "finish",
            ["Phone Case", "Wireless Charger", "USB-C Cable", "Power Bank", "Car Mount"],
            ["matte", "soft-touch", "clear", "brushed metal"],
            ["daily use", "travel", "the car"],
        ),
        "computing": _sub(
            75,
            1.0,
            "finish",
            ["Mechanical Keyboard", "Wireless Mouse", "USB-C Hub", "Laptop Stand", "Webcam"],
            ["matte", "brushed aluminium", "space grey", "soft-touch"],
            ["the home office", "gaming", "video calls"],
        ),
        "smart home": _sub(
            55,
            0.8,
            "finish",
            ["Smart Plug", "Video Doorbell", "Smart Bulb", "Thermostat", "Indoor Camera"],
            ["matte", "gloss", "brushed metal"],
            ["saving energy", "peace of mind while away", "hands-free routines"],
        ),
    },
    "beauty": {
        "skincare": _sub(
            24,
            1.2,
            "with",
            ["Face Serum", "Moisturiser", "Cleanser", "Sunscreen SPF 50", "Eye Cream"],
            ["hyaluronic acid", "niacinamide", "vitamin C", "ceramides", "squalane"],
            ["a morning routine", "sensitive skin", "dry winter skin"],
            cycle=45,
        ),
        "haircare": _sub(
            16,
            0.9,
            "with",
            ["Shampoo", "Conditioner", "Hair Mask", "Leave-In Cream"],
            ["argan oil", "rice protein", "coconut milk", "keratin"],
            ["curly hair", "fine hair", "daily washing"],
        ),
        "fragrance": _sub(
            65,
            0.7,
            "with",
            ["Eau de Parfum", "Eau de Toilette", "Body Mist", "Solid Perfume"],
            ["notes of bergamot", "notes of sandalwood", "notes of fig", "notes of vetiver"],
            ["evenings out", "everyday wear", "gifting"],
            adjectives=["Fresh", "Warm", "Classic", "Signature", "Intense", "Soft"],
        ),
    },
    "grocery": {
        "coffee": _sub(
            14,
            1.0,
            "food",
            ["Whole Bean Coffee", "Ground Coffee", "Espresso Capsules", "Cold Brew Concentrate"],
            [
                "single-origin Ethiopian beans",
                "Colombian beans",
                "a Brazilian blend",
                "Guatemalan beans",
            ],
            ["espresso lovers", "filter brewing", "slow weekend mornings"],
            cycle=21,
        ),
        "tea": _sub(
            9,
            0.8,
            "food",
            ["Green Tea", "Black Tea", "Herbal Infusion", "Matcha Powder", "Chai Blend"],
            ["organic leaves", "hand-picked leaves", "leaves from a single estate"],
            ["a calm afternoon", "an early start", "winding down"],
            cycle=30,
        ),
        "snacks": _sub(
            6,
            1.0,
            "food",
            ["Dark Chocolate Bar", "Trail Mix", "Granola", "Salted Almonds", "Oat Crackers"],
            ["organic ingredients", "whole-food ingredients", "no added sugar"],
            ["the office drawer", "hiking", "movie night"],
        ),
        "pantry": _sub(
            8,
            0.9,
            "food",
            ["Olive Oil", "Balsamic Vinegar", "Hot Sauce", "Wildflower Honey", "Pasta Sauce"],
            ["organic ingredients", "traditional methods", "ingredients from small producers"],
            ["weeknight dinners", "salads", "gifting"],
        ),
    },
    "pets": {
        "pet food": _sub(
            38,
            1.0,
            "food",
            ["Dry Dog Food", "Puppy Food", "Senior Dog Food", "Dog Treats", "Wet Dog Food"],
            ["free-range chicken", "wild salmon", "lamb and rice", "turkey and sweet potato"],
            ["everyday feeding", "active dogs", "sensitive stomachs"],
            cycle=28,
            adjectives=[
                "Natural",
                "Wholesome",
                "High-Protein",
                "Everyday",
                "Grain-Free",
                "Premium",
            ],
        ),
        "pet toys": _sub(
            12,
            0.8,
            "made",
            ["Rope Toy", "Chew Ball", "Tug Toy", "Puzzle Feeder", "Plush Toy"],
            ["non-toxic materials", "recycled fibres", "durable, pet-safe materials"],
            ["playtime", "keeping busy while you are out", "teething puppies"],
        ),
        "pet care": _sub(
            22,
            0.8,
            "made",
            ["Dog Bed", "Harness", "Collar", "Leash", "Car Seat Cover"],
            ["padded nylon", "recycled polyester", "water-resistant canvas"],
            ["long walks", "road trips", "everyday comfort"],
        ),
    },
}

ADJECTIVES: dict[str, list[str]] = {  # per top category, unless a subcategory brings its own
    "home": ["Nordic", "Classic", "Handmade", "Minimal", "Rustic", "Modern"],
    "fashion": ["Everyday", "Lightweight", "Tailored", "Relaxed", "Heritage", "Essential"],
    "electronics": ["Compact", "Essential", "Slim", "Advanced", "Classic", "Studio"],
    "beauty": ["Hydrating", "Gentle", "Daily", "Radiance", "Calming", "Restoring"],
    "grocery": ["Organic", "Small-Batch", "Artisan", "Fairtrade", "Classic", "Premium"],
    "pets": ["Natural", "Durable", "Everyday", "Deluxe", "Comfort", "Active"],
}
COLOURS = ["black", "white", "sage green", "navy", "terracotta", "sand", "charcoal", "oat", "rust"]
# Description templates by style: {lead} is "A gentle" / "An advanced" / "Compact" (plural nouns).
DESCRIPTION = {
    "made": "{lead} {noun} in {colour}, made with {material}. Made for {use}.",
    "finish": "{lead} {noun} in {colour} with a {material} finish. Great for {use}.",
    "with": "{lead} {noun} with {material}. Ideal for {use}.",
    "food": "{Adj} {noun} made with {material}. Ideal for {use}.",
}

TIERS = ("premium", "mid", "budget")
TIER_PRICE = np.array([2.0, 1.0, 0.55])  # price multiplier of a brand tier
TIER_ITEMS = np.array([0.7, 1.0, 1.2])  # budget brands carry wider assortments
TIER_APPEAL = np.array([0.2, 0.0, -0.1])
# brand -> (top category, tier): five brands per top category.
BRANDS: dict[str, tuple[str, str]] = {
    "Nordhaus": ("home", "premium"),
    "Oakline": ("home", "mid"),
    "Hearth & Co": ("home", "mid"),
    "Casa Viva": ("home", "budget"),
    "Homely": ("home", "budget"),
    "Aurelle": ("fashion", "premium"),
    "Northtrail": ("fashion", "mid"),
    "Urban Thread": ("fashion", "mid"),
    "Basix": ("fashion", "budget"),
    "Stride": ("fashion", "budget"),
    "Voltaic": ("electronics", "premium"),
    "Sonance": ("electronics", "premium"),
    "Kubo": ("electronics", "mid"),
    "Zentro": ("electronics", "mid"),
    "Ampli": ("electronics", "budget"),
    "Maison Lumiere": ("beauty", "premium"),
    "Dewdrop": ("beauty", "mid"),
    "Verdant": ("beauty", "mid"),
    "Purelle": ("beauty", "mid"),
    "Glow Lab": ("beauty", "budget"),
    "Roastery 1894": ("grocery", "premium"),
    "Ember & Bean": ("grocery", "premium"),
    "Green Leaf": ("grocery", "mid"),
    "Harvest Table": ("grocery", "mid"),
    "Pantry Basics": ("grocery", "budget"),
    "Wildpaw": ("pets", "premium"),
    "Happy Tails": ("pets", "mid"),
    "Furbelly": ("pets", "mid"),
    "PetPal": ("pets", "budget"),
    "Barkley": ("pets", "budget"),
}

COUNTRIES = ("US", "GB", "DE", "FR", "NL", "ES", "SE", "CA")
COUNTRY_P = (0.34, 0.16, 0.15, 0.10, 0.08, 0.07, 0.05, 0.05)
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_P = (0.14, 0.30, 0.24, 0.16, 0.10, 0.06)
GENDERS = ("f", "m", "x", None)
GENDER_P = (0.48, 0.41, 0.03, 0.08)

# --------------------------------------------------------------------------------------------------
# Behaviour constants (hidden truth of the simulation)
# --------------------------------------------------------------------------------------------------

LIFECYCLES = ("new", "loyal", "bargain_hunter", "churner", "casual")
NEW, LOYAL, BARGAIN, CHURNER, CASUAL = range(5)
LC_SHARE = np.array([0.20, 0.15, 0.15, 0.15, 0.35])
# Browse-session rate while active, relative to sessions_per_user_per_week; normalised so that the
# population average is exactly that parameter.
LC_RATE = np.array([1.2, 3.0, 1.5, 1.8, 0.45])
LC_RATE = LC_RATE / (LC_SHARE @ LC_RATE)
LC_EXTRA_VIEWS = np.array([2.0, 2.5, 3.5, 2.0, 1.5])  # mean views per session beyond the first
LC_CART = np.array([0.0, 0.5, 0.0, -0.1, -0.4])  # add-to-cart log-odds offset
LC_BUY = np.array([-0.2, 1.0, 0.0, -0.3, -0.5])  # cart -> purchase log-odds offset

EXPLORE = 0.15  # share of sessions whose intent ignores taste
STAY_ON_INTENT = 0.75  # share of later views in a session that stay in the intent subcategory
POPULARITY = 0.6  # exponent of rich-get-richer: weight ~ (1 + views so far) ** POPULARITY
PRICE_FIT = 1.2  # how strongly price sensitivity pushes towards cheap items (per sd of log price)
RECENCY_BOOST = 1.0  # log-weight bonus of a brand-new item ...
RECENCY_TAU = 21 * DAY  # ... decaying with this time constant
NEW_ITEM_SHARE = 0.30
OUT_OF_STOCK_SHARE = 0.05
RETURN_RATE = 0.03  # of durable purchases
MAX_VIEWS = 20
# No session lasts longer than this (20 views x (900 s dwell + gaps) + checkout < 6 h). Sessions
# that would run past the end of the window are moved earlier by their overflow, so item
# availability is judged at min(start, end - SESSION_MARGIN).
SESSION_MARGIN = 8 * 3600.0
# Relative traffic by hour of day (UTC): quiet nights, an evening peak.
# fmt: off
HOUR_P = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.8, 0.9, 1.0, 1.1,
                   1.2, 1.1, 1.0, 1.0, 1.1, 1.2, 1.4, 1.7, 1.9, 1.8, 1.3, 0.7])
# fmt: on
WEEKDAY = np.array([0.92, 0.9, 0.92, 0.95, 1.05, 1.3, 1.25])  # Monday..Sunday

EV_VIEW, EV_CART, EV_REMOVE, EV_PURCHASE, EV_RETURN = range(5)
EVENT_NAMES = np.array(
    ["view", "add_to_cart", "remove_from_cart", "purchase", "return"], dtype=object
)


@dataclass(frozen=True)
class SyntheticParams:
    """Size and seed of a synthetic store. Same params -> identical frames."""

    seed: int = 7
    n_users: int = 2_000
    n_items: int = 500
    days: int = 120
    end_date: str = "2026-10-31"  # last day of activity (UTC); fixed so the output is deterministic
    sessions_per_user_per_week: float = 1.0  # average; lifecycle types scale it

    @classmethod
    def preset(cls, size: str) -> SyntheticParams:
        """ "small": the defaults (~86k events, well under a second); "1m": ~1,000,000 events
        (30k users, 5k items, 180 days, a few seconds)."""
        if size == "small":
            return cls()
        if size == "1m":
            return cls(n_users=30_000, n_items=5_000, days=180, sessions_per_user_per_week=0.42)
        raise ValueError(f"unknown preset {size!r}; expected 'small' or '1m'")


@dataclass(frozen=True)
class SyntheticStore:
    """Frames of the contract plus the hidden truth.

    truth tables (all ids as in the frames, strings as pandas "string"):
      user_tastes  user_id, category_path, affinity: the Dirichlet taste over every subcategory;
                   sums to 1 per user (one row per user x subcategory).
      users        user_id, lifecycle (one of LIFECYCLES), price_sensitivity (0..1, how strongly the
                   user prefers cheaper items of a subcategory), sessions_per_week (browse-session
                   rate while active), active_from / active_until (the span sessions were drawn in).
      items        item_id, category_path, appeal (log-weight of intrinsic attractiveness),
                   price_z (log price standardised within the subcategory), out_of_stock_since
                   (NaT when in stock; nothing is carted or bought after it).
      staples      user_id, item_id, cycle_days: consumables a user comes back to rebuy on a cycle.
      sessions     session_id, user_id, started_at, intent (the subcategory the visit was about),
                   kind ("browse" or "replenish").
    """

    events: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    truth: dict[str, pd.DataFrame]


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _ids(prefix: str, n: int, width: int, start: int = 0) -> np.ndarray:
    width = max(width, len(str(start + n - 1)) if n else width)
    return np.array([f"{prefix}{i:0{width}d}" for i in range(start, start + n)], dtype=object)


def _lower(phrase: str) -> str:
    """Lower-case a title phrase for running text, keeping acronyms and codes (USB-C, SPF 50)."""
    return " ".join(
        w if w.isupper() or any(c.isdigit() for c in w) else w.lower() for w in phrase.split()
    )


def _str(values: np.ndarray) -> pd.arrays.StringArray:
    return pd.array(values, dtype="string")


def _ts(base_us: int, seconds: np.ndarray) -> np.ndarray:
    """Seconds since the window start -> datetime64[us] (NaN -> NaT)."""
    seconds = np.asarray(seconds, dtype=float)
    out = np.full(seconds.shape, np.iinfo(np.int64).min, dtype=np.int64)  # NaT
    ok = np.isfinite(seconds)
    out[ok] = base_us + np.floor(seconds[ok] * 1e6).astype(np.int64)
    return out.view("datetime64[us]")


def _sample_rows(rng: np.random.Generator, prob: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of `rows`, draw a column index from that row of the row-stochastic `prob`."""
    n, k = prob.shape
    cum = np.cumsum(prob, axis=1)
    cum /= cum[:, -1:]  # guard against rounding so every row ends at exactly 1
    # Offsetting row r by r makes the flattened cumulative sums monotone: one searchsorted for all.
    flat = (cum + np.arange(n)[:, None]).ravel()
    pos = np.searchsorted(flat, rows + rng.random(rows.size), side="right")
    return np.clip(pos - rows * k, 0, k - 1)


def _group_cumsum(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sum of `values` within contiguous groups starting where group_start."""
    cs = np.cumsum(values)
    excl = cs - values
    first = np.flatnonzero(group_start)
    sizes = np.diff(np.append(first, values.size))
    return excl - np.repeat(excl[first], sizes)


def _frame(columns: dict[str, str], data: dict[str, object]) -> pd.DataFrame:
    df = pd.DataFrame({name: data[name] for name in columns})
    return df.astype(columns, copy=False)


# --------------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------------


def _subcategories():
    tops, names, paths, price, weight, cycle = [], [], [], [], [], []
    for t, (top, subs) in enumerate(CATALOG.items()):
        for name, spec in subs.items():
            tops.append(t)
            names.append((top, name))
            paths.append(f"{top}{CATEGORY_SEPARATOR}{name}")
            price.append(spec["price"])
            weight.append(spec["weight"])
            cycle.append(spec["cycle"])
    w = np.array(weight, dtype=float)
    return (
        np.array(tops),
        names,
        np.array(paths, dtype=object),
        np.array(price, dtype=float),
        w / w.sum(),
        np.array(cycle, dtype=float),
    )


def generate_store(params: SyntheticParams) -> SyntheticStore:
    """Generate the synthetic store described by `params` (see the module docstring)."""
    sub_top, sub_names, sub_path, sub_price, sub_p, sub_cycle = _subcategories()
    n_sub, n_top = sub_top.size, len(CATALOG)
    if params.n_users < 1 or params.days < 1:
        raise ValueError("n_users and days must be >= 1")
    if params.n_items < n_sub:
        raise ValueError(f"n_items must be >= {n_sub} (one item per subcategory)")
    rng = np.random.default_rng(params.seed)
    days = int(params.days)
    horizon = days * DAY  # times are seconds since the window start; all events < horizon
    last_second = horizon - 1.0
    end_day = np.datetime64(params.end_date, "D")
    base_us = int(
        (end_day - np.timedelta64(days - 1, "D")).astype("datetime64[us]").astype(np.int64)
    )

    # ---- calendar: weight of each day (weekday x season x holidays), mean ~1
    dates = pd.date_range(pd.Timestamp(base_us, unit="us"), periods=days, freq="D")
    season = 1.0 + 0.08 * np.cos(2 * np.pi * (dates.dayofyear.to_numpy() - 350) / 365.25)
    holiday = np.where(
        (dates.month == 11) & (dates.day >= 22),
        1.4,
        np.where((dates.month == 12) & (dates.day <= 22), 1.2, 1.0),
    )
    day_w = WEEKDAY[dates.dayofweek.to_numpy()] / WEEKDAY.mean() * season * holiday
    day_cum = np.concatenate([[0.0], np.cumsum(day_w)])

    # ---- catalog
    n_items = params.n_items
    brand_names = np.array(list(BRANDS), dtype=object)
    top_names = list(CATALOG)
    brand_top = np.array([top_names.index(t) for t, _ in BRANDS.values()])
    brand_tier = np.array([TIERS.index(tier) for _, tier in BRANDS.values()])

    # The first n_sub items give every subcategory one item that predates the window, so a session
    # of any intent always has something to view.
    item_sub = np.concatenate([np.arange(n_sub), rng.choice(n_sub, n_items - n_sub, p=sub_p)])
    p_new = min(1.0, NEW_ITEM_SHARE * n_items / max(n_items - n_sub, 1))
    is_new = np.concatenate([np.zeros(n_sub, bool), rng.random(n_items - n_sub) < p_new])
    item_brand = np.empty(n_items, dtype=np.int64)
    for t in range(n_top):
        mine = np.flatnonzero(sub_top[item_sub] == t)
        cands = np.flatnonzero(brand_top == t)
        w = TIER_ITEMS[brand_tier[cands]]
        item_brand[mine] = rng.choice(cands, mine.size, p=w / w.sum())
    tier = brand_tier[item_brand]
    raw_price = sub_price[item_sub] * TIER_PRICE[tier] * rng.lognormal(0.0, 0.3, n_items)
    item_price = np.floor(raw_price) + 0.99  # shop prices end in .99; always > 0
    log_p = np.log(item_price)
    price_z = np.zeros(n_items)
    for k in range(n_sub):
        m = item_sub == k
        sd = log_p[m].std()
        price_z[m] = (log_p[m] - log_p[m].mean()) / sd if sd > 0 else 0.0
    appeal = rng.normal(0.0, 0.8, n_items) + TIER_APPEAL[tier]
    created = np.where(is_new, rng.random(n_items) * horizon, -rng.uniform(1, 730, n_items) * DAY)
    in_stock = rng.random(n_items) >= OUT_OF_STOCK_SHARE
    # An out-of-stock item ran out during the last two weeks; it cannot be carted after that.
    stock_out = np.where(
        in_stock, np.inf, np.maximum(created, horizon - rng.uniform(1, 14, n_items) * DAY)
    )

    # Item ids follow arrival order, like an autoincrement key.
    order = np.argsort(created, kind="stable")
    item_sub, item_brand, tier, item_price, price_z, appeal, created, in_stock, stock_out = (
        a[order]
        for a in (
            item_sub,
            item_brand,
            tier,
            item_price,
            price_z,
            appeal,
            created,
            in_stock,
            stock_out,
        )
    )
    item_ids = _ids("i", n_items, 5)

    adj_i, noun_u, mat_u, col_i, use_u = (rng.random(n_items) for _ in range(5))
    titles, descriptions = [], []
    for i in range(n_items):
        top, sub = sub_names[item_sub[i]]
        spec = CATALOG[top][sub]
        adjs = spec["adjectives"] or ADJECTIVES[top]
        adj = adjs[int(adj_i[i] * len(adjs))]
        noun = spec["nouns"][int(noun_u[i] * len(spec["nouns"]))]
        titles.append(f"{brand_names[item_brand[i]]} {adj} {noun}")
        plural = noun.endswith("s") and not noun.endswith("ss")
        descriptions.append(
            DESCRIPTION[spec["style"]].format(
                lead=adj if plural else f"{'An' if adj[0] in 'AEIOU' else 'A'} {_lower(adj)}",
                Adj=adj,
                noun=_lower(noun),
                colour=COLOURS[int(col_i[i] * len(COLOURS))],
                material=spec["materials"][int(mat_u[i] * len(spec["materials"]))],
                use=spec["uses"][int(use_u[i] * len(spec["uses"]))],
            )
        )

    items_by_sub = [np.flatnonzero(item_sub == k) for k in range(n_sub)]

    # ---- customers and their hidden tastes
    n_users = params.n_users
    lc = rng.choice(len(LIFECYCLES), n_users, p=LC_SHARE)
    sens = np.where(lc == BARGAIN, rng.beta(8, 2.5, n_users), rng.beta(2, 6, n_users))

    # Taste: Dirichlet with a big concentration on 1-3 favourite subcategories, often within the
    # same top category (a coffee lover is likelier to also like tea than headphones).
    k_fav = rng.choice([1, 2, 3], n_users, p=[0.35, 0.40, 0.25])
    top_subs = [np.flatnonzero(sub_top == t) for t in range(n_top)]
    max_len = max(len(s) for s in top_subs)
    top_sub_mat = np.array([np.pad(s, (0, max_len - len(s)), mode="edge") for s in top_subs])
    top_len = np.array([len(s) for s in top_subs])
    alpha = np.full((n_users, n_sub), 0.05)
    fav = rng.choice(n_sub, n_users, p=sub_p)
    rows = np.arange(n_users)
    alpha[rows, fav] = 4.0 / np.sqrt(k_fav)
    for slot in (2, 3):
        same_top = rng.random(n_users) < 0.6
        ft = sub_top[fav]
        sibling = top_sub_mat[ft, (rng.random(n_users) * top_len[ft]).astype(int)]
        other = np.where(same_top, sibling, rng.choice(n_sub, n_users, p=sub_p))
        has = k_fav >= slot
        alpha[rows[has], other[has]] = 4.0 / np.sqrt(k_fav[has])
    g = rng.gamma(alpha)
    taste = g / g.sum(axis=1, keepdims=True)

    # Active span in days [a, b): new users arrive late, churners leave early.
    act_a = np.zeros(n_users, dtype=np.int64)
    act_b = np.full(n_users, days, dtype=np.int64)
    is_new_u = lc == NEW
    act_a[is_new_u] = np.minimum(
        (rng.uniform(0.55, 0.95, n_users) * days).astype(np.int64), days - 1
    )[is_new_u]
    churn = lc == CHURNER
    act_b[churn] = np.maximum((rng.uniform(0.15, 0.6, n_users) * days).astype(np.int64), 1)[churn]
    rate = params.sessions_per_user_per_week * LC_RATE[lc] * rng.lognormal(-0.125, 0.5, n_users)
    expected = rate / 7.0 * (day_cum[act_b] - day_cum[act_a])
    n_browse = np.maximum(1, rng.poisson(expected))  # every customer visits at least once

    # ---- browse sessions
    b_user = np.repeat(rows, n_browse)
    lo, hi = day_cum[act_a[b_user]], day_cum[act_b[b_user]]
    day = np.searchsorted(day_cum, lo + rng.random(b_user.size) * (hi - lo), side="right") - 1
    day = np.clip(day, act_a[b_user], act_b[b_user] - 1)
    hour = rng.choice(24, b_user.size, p=HOUR_P / HOUR_P.sum())
    b_start = day * DAY + (hour + rng.random(b_user.size)) * 3600.0
    explore = rng.random(b_user.size) < EXPLORE
    b_intent = np.where(
        explore, rng.choice(n_sub, b_user.size, p=sub_p), _sample_rows(rng, taste, b_user)
    )

    # ---- replenishment sessions: staples of consumables, rebought on a cycle
    consumable = np.flatnonzero(sub_cycle > 0)
    cons_aff = taste[:, consumable]
    best = consumable[cons_aff.argmax(axis=1)]
    best_aff = cons_aff.max(axis=1)
    wants = np.where(
        lc == LOYAL,
        (best_aff >= 0.05) & (rng.random(n_users) < 0.9),
        (best_aff >= 0.15) & (rng.random(n_users) < 0.3),
    )
    st_user = np.flatnonzero(wants)
    st_sub = best[st_user]
    st_item = np.full(st_user.size, -1)
    for k in np.unique(st_sub):
        cands = items_by_sub[k][created[items_by_sub[k]] < 0]  # a staple predates the window
        if cands.size == 0:
            continue
        who = np.flatnonzero(st_sub == k)
        score = (
            appeal[cands][None, :]
            - PRICE_FIT * sens[st_user[who]][:, None] * price_z[cands][None, :]
            + rng.gumbel(size=(who.size, cands.size))
        )
        st_item[who] = cands[score.argmax(axis=1)]
    keep = st_item >= 0
    st_user, st_sub, st_item = st_user[keep], st_sub[keep], st_item[keep]
    st_cycle = sub_cycle[st_sub] * rng.lognormal(0.0, 0.15, st_user.size) * DAY
    st_first = act_a[st_user] * DAY + rng.random(st_user.size) * st_cycle
    st_end = act_b[st_user] * DAY
    n_rep = np.where(
        st_first < st_end, np.floor((st_end - st_first) / st_cycle).astype(np.int64) + 1, 0
    )
    r_idx = np.repeat(np.arange(st_user.size), n_rep)
    r_k = np.arange(r_idx.size) - np.repeat(np.cumsum(n_rep) - n_rep, n_rep)
    r_start = (
        st_first[r_idx] + r_k * st_cycle[r_idx] + rng.normal(0, 0.1, r_idx.size) * st_cycle[r_idx]
    )
    r_start = np.clip(r_start, act_a[st_user[r_idx]] * DAY, st_end[r_idx] - 1.0)

    # ---- all sessions, in chronological order
    s_user = np.concatenate([b_user, st_user[r_idx]])
    s_start = np.concatenate([b_start, r_start])
    s_kind = np.concatenate([np.zeros(b_user.size, np.int8), np.ones(r_idx.size, np.int8)])
    s_intent = np.concatenate([b_intent, st_sub[r_idx]])
    s_staple = np.concatenate([np.full(b_user.size, -1), st_item[r_idx]])
    order = np.lexsort((s_user, s_start))
    s_user, s_start, s_kind, s_intent, s_staple = (
        a[order] for a in (s_user, s_start, s_kind, s_intent, s_staple)
    )
    n_sess = s_user.size
    s_lc = lc[s_user]

    # ---- views
    extra = np.where(s_kind == 1, rng.poisson(0.5, n_sess), rng.poisson(LC_EXTRA_VIEWS[s_lc]))
    n_views = 1 + np.minimum(extra, MAX_VIEWS - 1)
    v_sess = np.repeat(np.arange(n_sess), n_views)
    v_pos = np.arange(v_sess.size) - np.repeat(np.cumsum(n_views) - n_views, n_views)
    v_user = s_user[v_sess]
    drift = (v_pos > 0) & (rng.random(v_sess.size) >= STAY_ON_INTENT)
    drift_sub = np.where(
        rng.random(v_sess.size) < 0.6,
        _sample_rows(rng, taste, v_user),
        rng.choice(n_sub, v_sess.size, p=sub_p),
    )
    v_sub = np.where(drift, drift_sub, s_intent[v_sess])
    forced = (s_kind[v_sess] == 1) & (v_pos == 0)
    v_item = np.where(forced, s_staple[v_sess], -1)

    # Item choice, week by week so popularity (views so far) feeds back: rich get richer. Items that
    # predate the window start with a history proportional to their appeal and age.
    age0 = np.clip(-created, 0, 365 * DAY) / DAY
    pop = rng.poisson(np.exp(appeal) * age0 / 10.0).astype(float)
    s_avail = np.minimum(s_start, horizon - SESSION_MARGIN)  # availability cut-off of a session
    v_week = (s_start[v_sess] // (7 * DAY)).astype(np.int64)
    n_weeks = int(v_week.max()) + 1 if v_week.size else 0
    free = np.flatnonzero(~forced)
    key = v_week[free] * n_sub + v_sub[free]
    free = free[np.argsort(key, kind="stable")]
    key = v_week[free] * n_sub + v_sub[free]
    bounds = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate([[0], bounds]) if free.size else np.array([], dtype=np.int64)
    ends = np.concatenate([bounds, [free.size]]) if free.size else np.array([], dtype=np.int64)
    grp_week = key[starts] // n_sub if free.size else starts
    by_week = np.argsort(v_week, kind="stable")
    week_bounds = np.searchsorted(v_week[by_week], np.arange(n_weeks + 1))
    g_ptr = 0
    for week in range(n_weeks):
        while g_ptr < starts.size and grp_week[g_ptr] == week:
            sel = free[starts[g_ptr] : ends[g_ptr]]
            cands = items_by_sub[int(key[starts[g_ptr]] % n_sub)]
            t = s_avail[v_sess[sel]][:, None]
            age = t - created[cands][None, :]
            score = (
                (appeal[cands] + POPULARITY * np.log1p(pop[cands]))[None, :]
                - PRICE_FIT * sens[v_user[sel]][:, None] * price_z[cands][None, :]
                + RECENCY_BOOST * np.exp(-np.maximum(age, 0.0) / RECENCY_TAU)
                + rng.gumbel(size=age.shape)
            )
            score[age < 0] = -np.inf  # not created yet: cannot be seen
            v_item[sel] = cands[score.argmax(axis=1)]
            g_ptr += 1
        pop += np.bincount(
            v_item[by_week[week_bounds[week] : week_bounds[week + 1]]], minlength=n_items
        )

    # A re-view of the same item in a session is folded into the first view.
    first = np.unique(v_sess * n_items + v_item, return_index=True)[1]
    keep = np.zeros(v_sess.size, bool)
    keep[first] = True
    v_sess, v_user, v_item, forced = v_sess[keep], v_user[keep], v_item[keep], forced[keep]
    v_first = np.r_[True, v_sess[1:] != v_sess[:-1]]

    # ---- dwell, cart, purchase
    n_v = v_sess.size
    aff = taste[v_user, item_sub[v_item]]
    v_lc = lc[v_user]
    v_sens = sens[v_user]
    pz = price_z[v_item]
    is_cons = sub_cycle[item_sub[v_item]] > 0
    eps = rng.normal(0.0, 1.0, n_v)  # unexplained interest: longer dwell and likelier carting
    dwell = np.round(
        np.clip(
            np.exp(
                np.log(14.0) + 1.6 * aff + 0.25 * appeal[v_item] - 0.3 * v_sens * pz + 0.55 * eps
            ),
            1.0,
            900.0,
        ),
        1,
    )
    cart_logit = (
        -4.1
        + 2.2 * aff
        + 0.5 * appeal[v_item]
        - PRICE_FIT * v_sens * pz
        + LC_CART[v_lc]
        + 0.5 * eps
    )
    p_cart = np.where(forced, 0.95, 1.0 / (1.0 + np.exp(-cart_logit)))
    # Every event of a session lies before start + SESSION_MARGIN: no cart after stock-out.
    orderable = s_start[v_sess] + SESSION_MARGIN < stock_out[v_item]
    carted = (rng.random(n_v) < p_cart) & orderable
    buy_logit = -2.6 + LC_BUY[v_lc] + 0.8 * aff + 0.3 * appeal[v_item] - 1.5 * v_sens * pz
    p_buy = np.where(forced, 0.75, 1.0 / (1.0 + np.exp(-buy_logit)))
    bought = carted & (rng.random(n_v) < p_buy)
    # Nobody buys the same durable twice: a user who owns it already looks but does not cart it.
    # (Views are in chronological session order, so the first purchase is the one kept.)
    durable = np.flatnonzero(bought & ~is_cons)
    owned_before = np.ones(durable.size, bool)
    owned_before[np.unique(v_user[durable] * n_items + v_item[durable], return_index=True)[1]] = (
        False
    )
    carted[durable[owned_before]] = False
    bought[durable[owned_before]] = False
    removed = carted & ~bought & (rng.random(n_v) < 0.3)
    # Quantity: mostly 1; consumables are stocked up on more often.
    u_q = rng.random(n_v)
    p1, p2 = np.where(is_cons, 0.60, 0.88), np.where(is_cons, 0.30, 0.09)
    qty = 1 + (u_q >= p1).astype(np.int64) + (u_q >= p1 + p2)

    # ---- timing within sessions
    cart_delay = np.where(carted, rng.uniform(1.0, 8.0, n_v), 0.0)
    step = dwell + cart_delay + rng.uniform(3.0, 45.0, n_v)
    v_off = _group_cumsum(step, v_first)
    sess_of_view_end = np.zeros(n_sess)
    np.maximum.at(sess_of_view_end, v_sess, v_off + step)
    # removals after browsing, then checkout
    rem_gap = np.where(removed, rng.uniform(5.0, 40.0, n_v), 0.0)
    rem_off = sess_of_view_end[v_sess] + _group_cumsum(rem_gap, v_first) + rem_gap
    rem_total = np.bincount(v_sess, weights=rem_gap, minlength=n_sess)
    checkout = sess_of_view_end + rem_total + rng.uniform(30.0, 240.0, n_sess)
    buy_off = checkout[v_sess] + _group_cumsum(
        bought.astype(float), v_first
    )  # order lines 1 s apart
    n_bought = np.bincount(v_sess, weights=bought, minlength=n_sess)
    sess_len = np.where(n_bought > 0, checkout + n_bought - 1.0, sess_of_view_end + rem_total)
    overflow = np.maximum(0.0, s_start + sess_len - last_second)
    s_start = s_start - overflow  # a late session is moved back so it ends inside the window
    t0 = s_start[v_sess]

    # ---- orders and returns
    has_order = n_bought > 0
    order_no = np.cumsum(has_order) - 1  # orders are numbered in session (start time) order
    b_idx = np.flatnonzero(bought)
    ret = (rng.random(b_idx.size) < RETURN_RATE) & ~is_cons[b_idx]
    ret_t = t0[b_idx] + buy_off[b_idx] + rng.uniform(2.0, 21.0, b_idx.size) * DAY
    ret &= ret_t <= last_second
    r_b = b_idx[ret]

    # ---- assemble events
    c_idx, m_idx = np.flatnonzero(carted), np.flatnonzero(removed)
    parts = [  # (view rows, type, time, seq within session)
        (np.arange(n_v), EV_VIEW, t0 + v_off, 0),
        (c_idx, EV_CART, t0[c_idx] + v_off[c_idx] + dwell[c_idx] + cart_delay[c_idx] * 0.5, 1),
        (m_idx, EV_REMOVE, t0[m_idx] + rem_off[m_idx], 2),
        (b_idx, EV_PURCHASE, t0[b_idx] + buy_off[b_idx], 3),
        (r_b, EV_RETURN, ret_t[ret], 4),
    ]
    e_row = np.concatenate([p[0] for p in parts])
    e_type = np.concatenate([np.full(p[0].size, p[1]) for p in parts])
    e_t = np.concatenate([p[2] for p in parts])
    e_t = np.minimum(e_t, last_second)
    e_sess = np.where(e_type == EV_RETURN, n_sess, v_sess[e_row])  # returns are outside any session
    e_seq = np.concatenate([np.full(p[0].size, p[3]) for p in parts])
    srt = np.lexsort((e_seq, e_row, e_sess, e_t))
    e_row, e_type, e_t, e_sess = e_row[srt], e_type[srt], e_t[srt], e_sess[srt]
    n_ev = e_row.size

    user_ids = _ids("u", n_users, 6)
    sess_ids = np.append(_ids("s", n_sess, 7, start=1), None)
    order_ids = _ids("o", int(has_order.sum()), 7, start=1)
    e_item = v_item[e_row]
    e_qty = np.where(e_type == EV_VIEW, 0, qty[e_row])
    e_order = np.full(n_ev, None, dtype=object)
    with_order = (e_type == EV_PURCHASE) | (e_type == EV_RETURN)
    e_order[with_order] = order_ids[order_no[v_sess[e_row[with_order]]]]
    e_dwell = np.where(e_type == EV_VIEW, dwell[e_row], np.nan)
    none = np.full(n_ev, None, dtype=object)
    events = _frame(
        EVENT_COLUMNS,
        {
            "event_id": _str(_ids("e", n_ev, 8, start=1)),
            "user_id": _str(user_ids[v_user[e_row]]),
            "session_id": _str(sess_ids[e_sess]),
            "item_id": _str(item_ids[e_item]),
            "event_type": _str(EVENT_NAMES[e_type]),
            "occurred_at": _ts(base_us, e_t),
            "quantity": pd.arrays.IntegerArray(e_qty.astype(np.int64), e_type == EV_VIEW),
            "price": item_price[e_item],
            "order_id": _str(e_order),
            "dwell_seconds": e_dwell,
            "placement": _str(none),
            "request_id": _str(none),
        },
    )

    # ---- products
    products = _frame(
        PRODUCT_COLUMNS,
        {
            "item_id": _str(item_ids),
            "title": _str(np.array(titles, dtype=object)),
            "description": _str(np.array(descriptions, dtype=object)),
            "category_path": _str(sub_path[item_sub]),
            "brand": _str(brand_names[item_brand]),
            "price": item_price,
            "in_stock": pd.arrays.BooleanArray(in_stock, np.zeros(n_items, bool)),
            "created_at": _ts(base_us, created),
        },
    )

    # ---- customers
    first_sess = np.full(n_users, np.inf)
    np.minimum.at(first_sess, s_user, s_start)
    # Three in four of those active from the start signed up before the window opened.
    early = (~is_new_u) & (rng.random(n_users) < 0.75)
    signup = np.where(early, -rng.uniform(1, 730, n_users) * DAY, np.inf)
    first_seen = np.minimum(first_sess, signup)

    def consent(p_yes: float) -> tuple[np.ndarray, np.ndarray]:
        # Mostly chosen at signup; some users decide (or change their mind) later.
        yes = rng.random(n_users) < p_yes
        later = rng.random(n_users) < 0.15
        delay = np.where(later, rng.uniform(1, 90, n_users) * DAY, rng.uniform(0, 120, n_users))
        at = np.minimum(first_seen + delay, np.maximum(first_seen, last_second))
        return yes, at

    cp, cp_at = consent(0.90)
    cm, cm_at = consent(0.60)
    gender = np.array(GENDERS, dtype=object)[rng.choice(len(GENDERS), n_users, p=GENDER_P)]
    no_mask = np.zeros(n_users, bool)
    customers = _frame(
        CUSTOMER_COLUMNS,
        {
            "user_id": _str(user_ids),
            "first_seen_at": _ts(base_us, first_seen),
            "country": _str(
                np.array(COUNTRIES, dtype=object)[rng.choice(len(COUNTRIES), n_users, p=COUNTRY_P)]
            ),
            "age_band": _str(
                np.array(AGE_BANDS, dtype=object)[rng.choice(len(AGE_BANDS), n_users, p=AGE_P)]
            ),
            "gender": _str(gender),
            "consent_personalization": pd.arrays.BooleanArray(cp, no_mask),
            "consent_personalization_at": _ts(base_us, cp_at),
            "consent_marketing": pd.arrays.BooleanArray(cm, no_mask.copy()),
            "consent_marketing_at": _ts(base_us, cm_at),
        },
    )

    # ---- truth
    truth = {
        "user_tastes": pd.DataFrame(
            {
                "user_id": _str(np.repeat(user_ids, n_sub)),
                "category_path": _str(np.tile(sub_path, n_users)),
                "affinity": taste.ravel(),
            }
        ),
        "users": pd.DataFrame(
            {
                "user_id": _str(user_ids),
                "lifecycle": _str(np.array(LIFECYCLES, dtype=object)[lc]),
                "price_sensitivity": sens,
                "sessions_per_week": rate,
                "active_from": _ts(base_us, act_a * DAY),
                "active_until": _ts(base_us, np.minimum(act_b * DAY, horizon) - 1.0),
            }
        ),
        "items": pd.DataFrame(
            {
                "item_id": _str(item_ids),
                "category_path": _str(sub_path[item_sub]),
                "appeal": appeal,
                "price_z": price_z,
                "out_of_stock_since": _ts(
                    base_us, np.where(np.isfinite(stock_out), stock_out, np.nan)
                ),
            }
        ),
        "staples": pd.DataFrame(
            {
                "user_id": _str(user_ids[st_user]),
                "item_id": _str(item_ids[st_item]),
                "cycle_days": st_cycle / DAY,
            }
        ),
        "sessions": pd.DataFrame(
            {
                "session_id": _str(sess_ids[:n_sess]),
                "user_id": _str(user_ids[s_user]),
                "started_at": _ts(base_us, s_start),
                "intent": _str(sub_path[s_intent]),
                "kind": _str(np.array(["browse", "replenish"], dtype=object)[s_kind]),
            }
        ),
    }
    return SyntheticStore(events=events, products=products, customers=customers, truth=truth)
