"""Catalog stage: subcategories, items (brand, price, appeal, arrival, stock) and their texts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.schema import CATEGORY_SEPARATOR
from ml.synthetic.behaviour import (
    DAY,
    NEW_ITEM_SHARE,
    OUT_OF_STOCK_SHARE,
    TIER_APPEAL,
    TIER_ITEMS,
    TIER_PRICE,
)
from ml.synthetic.words import ADJECTIVES, BRANDS, CATALOG, COLOURS, DESCRIPTION, TIERS

BRAND_NAMES = np.array(list(BRANDS), dtype=object)
BRAND_TOP = np.array([list(CATALOG).index(top) for top, _ in BRANDS.values()])
BRAND_TIER = np.array([TIERS.index(tier) for _, tier in BRANDS.values()])


@dataclass(frozen=True)
class Subcategories:
    """The leaves of CATALOG in CATALOG order; subcategory k is row k of every array."""

    top: np.ndarray  # index of the top category in CATALOG
    names: list[tuple[str, str]]  # (top, subcategory)
    path: np.ndarray  # "top > subcategory"
    price: np.ndarray  # typical price of a mid-tier item
    share: np.ndarray  # of the assortment, and of picks that ignore taste; sums to 1
    cycle: np.ndarray  # rebuy period in days of a consumable; 0 = durable

    @property
    def count(self) -> int:
        return self.top.size


@dataclass(frozen=True)
class SyntheticCatalog:
    """Items in id order, which is arrival order; item i is row i of every array."""

    sub: np.ndarray  # subcategory index
    brand: np.ndarray  # index into BRAND_NAMES
    price: np.ndarray
    price_z: np.ndarray  # log price standardised within the subcategory
    appeal: np.ndarray  # hidden log-weight of intrinsic attractiveness
    created: np.ndarray  # seconds; negative for items that predate the window
    in_stock: np.ndarray
    stock_out: np.ndarray  # second the item sold out; inf while in stock
    titles: list[str]
    descriptions: list[str]
    by_sub: list[np.ndarray]  # the items of each subcategory

    @property
    def count(self) -> int:
        return self.sub.size


def subcategories() -> Subcategories:
    """Flatten CATALOG into per-subcategory arrays."""
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
    return Subcategories(
        top=np.array(tops),
        names=names,
        path=np.array(paths, dtype=object),
        price=np.array(price, dtype=float),
        share=w / w.sum(),
        cycle=np.array(cycle, dtype=float),
    )


def build_catalog(
    rng: np.random.Generator, subs: Subcategories, n_items: int, horizon: float
) -> SyntheticCatalog:
    """Draw the assortment, number it in arrival order, and give every item a title and text."""
    sub, is_new = _draw_assortment(rng, subs, n_items)
    brand = _assign_brands(rng, subs, sub)
    tier = BRAND_TIER[brand]
    raw_price = subs.price[sub] * TIER_PRICE[tier] * rng.lognormal(0.0, 0.3, n_items)
    price = np.floor(raw_price) + 0.99  # shop prices end in .99; always > 0
    price_z = _standardise_log_price(price, sub, subs.count)
    appeal = rng.normal(0.0, 0.8, n_items) + TIER_APPEAL[tier]
    created = np.where(is_new, rng.random(n_items) * horizon, -rng.uniform(1, 730, n_items) * DAY)
    in_stock = rng.random(n_items) >= OUT_OF_STOCK_SHARE
    # An out-of-stock item ran out during the last two weeks; it cannot be carted after that.
    stock_out = np.where(
        in_stock, np.inf, np.maximum(created, horizon - rng.uniform(1, 14, n_items) * DAY)
    )

    # Item ids follow arrival order, like an autoincrement key.
    order = np.argsort(created, kind="stable")
    sub, brand, price, price_z, appeal, created, in_stock, stock_out = (
        a[order] for a in (sub, brand, price, price_z, appeal, created, in_stock, stock_out)
    )
    titles, descriptions = _write_texts(rng, subs, sub, brand)
    return SyntheticCatalog(
        sub=sub,
        brand=brand,
        price=price,
        price_z=price_z,
        appeal=appeal,
        created=created,
        in_stock=in_stock,
        stock_out=stock_out,
        titles=titles,
        descriptions=descriptions,
        by_sub=[np.flatnonzero(sub == k) for k in range(subs.count)],
    )


def _draw_assortment(
    rng: np.random.Generator, subs: Subcategories, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Subcategory of every item, and whether it arrives during the window."""
    n_sub = subs.count
    # The first n_sub items give every subcategory one item that predates the window, so a session
    # of any intent always has something to view.
    sub = np.concatenate([np.arange(n_sub), rng.choice(n_sub, n_items - n_sub, p=subs.share)])
    p_new = min(1.0, NEW_ITEM_SHARE * n_items / max(n_items - n_sub, 1))
    is_new = np.concatenate([np.zeros(n_sub, bool), rng.random(n_items - n_sub) < p_new])
    return sub, is_new


def _assign_brands(rng: np.random.Generator, subs: Subcategories, sub: np.ndarray) -> np.ndarray:
    """A brand of the item's top category; budget brands carry more items than premium ones."""
    brand = np.empty(sub.size, dtype=np.int64)
    for t in range(len(CATALOG)):
        mine = np.flatnonzero(subs.top[sub] == t)
        cands = np.flatnonzero(BRAND_TOP == t)
        w = TIER_ITEMS[BRAND_TIER[cands]]
        brand[mine] = rng.choice(cands, mine.size, p=w / w.sum())
    return brand


def _standardise_log_price(price: np.ndarray, sub: np.ndarray, n_sub: int) -> np.ndarray:
    """Log price as a z-score within its subcategory (0 where a subcategory has one price)."""
    log_p = np.log(price)
    price_z = np.zeros(price.size)
    for k in range(n_sub):
        m = sub == k
        sd = log_p[m].std()
        price_z[m] = (log_p[m] - log_p[m].mean()) / sd if sd > 0 else 0.0
    return price_z


def _write_texts(
    rng: np.random.Generator, subs: Subcategories, sub: np.ndarray, brand: np.ndarray
) -> tuple[list[str], list[str]]:
    """Title ("<brand> <adjective> <noun>") and description of every item, from the word lists."""
    n_items = sub.size
    adj_u, noun_u, mat_u, col_u, use_u = (rng.random(n_items) for _ in range(5))
    titles, descriptions = [], []
    for i in range(n_items):
        top, name = subs.names[sub[i]]
        spec = CATALOG[top][name]
        adjs = spec["adjectives"] or ADJECTIVES[top]
        adj = adjs[int(adj_u[i] * len(adjs))]
        noun = spec["nouns"][int(noun_u[i] * len(spec["nouns"]))]
        titles.append(f"{BRAND_NAMES[brand[i]]} {adj} {noun}")
        plural = noun.endswith("s") and not noun.endswith("ss")
        descriptions.append(
            DESCRIPTION[spec["style"]].format(
                lead=adj if plural else f"{'An' if adj[0] in 'AEIOU' else 'A'} {_lower(adj)}",
                Adj=adj,
                noun=_lower(noun),
                colour=COLOURS[int(col_u[i] * len(COLOURS))],
                material=spec["materials"][int(mat_u[i] * len(spec["materials"]))],
                use=spec["uses"][int(use_u[i] * len(spec["uses"]))],
            )
        )
    return titles, descriptions


def _lower(phrase: str) -> str:
    """Lower-case a title phrase for running text, keeping acronyms and codes (USB-C, SPF 50)."""
    return " ".join(
        w if w.isupper() or any(c.isdigit() for c in w) else w.lower() for w in phrase.split()
    )
