"""The synthetic store's vocabulary: catalog structure, brands, words for titles and descriptions,
and the demographic categories (with their shares) customers are drawn from. Plain data; the
numbers that shape behaviour live in `behaviour`."""

from __future__ import annotations


# top -> subcategory -> spec. `price` is the typical (median) price of a mid-tier item, `weight` the
# relative size of the assortment, `cycle` the rebuy period in days of a consumable (0 = durable),
# `style` the description template (see DESCRIPTION); each material / use suits each noun.
def _subcategory(price, weight, style, nouns, materials, uses, cycle=0, adjectives=None):
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
        "kitchen": _subcategory(
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
        "bedding": _subcategory(
            55,
            1.0,
            "made",
            ["Duvet Cover", "Sheet Set", "Pillowcase Set", "Throw Blanket", "Quilt"],
            ["washed linen", "organic cotton", "bamboo lyocell", "cotton percale"],
            ["cool summer nights", "cosy winter evenings", "the guest room"],
        ),
        "decor": _subcategory(
            32,
            1.0,
            "made",
            ["Vase", "Planter", "Serving Bowl", "Candle Holder", "Tray"],
            ["glazed ceramic", "brushed brass", "recycled glass", "terracotta"],
            ["a bright living room", "the mantelpiece", "a dining table centrepiece"],
        ),
        "lighting": _subcategory(
            60,
            0.8,
            "made",
            ["Table Lamp", "Floor Lamp", "Pendant Light", "Desk Lamp", "Wall Sconce"],
            ["brushed brass", "opal glass", "powder-coated steel", "solid oak"],
            ["late-night reading", "soft evening light", "the home office"],
        ),
    },
    "fashion": {
        "shoes": _subcategory(
            85,
            1.2,
            "made",
            ["Sneaker", "Chelsea Boot", "Loafer", "Derby Shoe", "Hiking Boot"],
            ["full-grain leather", "suede", "nubuck", "vegan leather"],
            ["everyday wear", "city walking", "weekend trips", "all-day comfort"],
        ),
        "outerwear": _subcategory(
            140,
            0.9,
            "made",
            ["Parka", "Overshirt", "Field Jacket", "Gilet", "Overcoat"],
            ["merino wool", "recycled nylon", "waxed cotton", "organic cotton twill"],
            ["wet commutes", "cold mornings", "weekends outdoors"],
        ),
        "accessories": _subcategory(
            30,
            1.1,
            "made",
            ["Belt", "Wallet", "Tote Bag", "Card Holder", "Backpack"],
            ["vegetable-tanned leather", "full-grain leather", "recycled canvas", "recycled nylon"],
            ["everyday carry", "travel", "gifting"],
        ),
        "activewear": _subcategory(
            45,
            1.0,
            "made",
            ["Leggings", "Training Tee", "Running Shorts", "Sports Bra", "Track Jacket"],
            ["quick-dry polyester", "recycled nylon", "a merino blend", "stretch jersey"],
            ["gym sessions", "yoga", "running", "interval training"],
        ),
    },
    "electronics": {
        "audio": _subcategory(
            90,
            1.0,
            "finish",
            ["Wireless Earbuds", "Over-Ear Headphones", "Bluetooth Speaker", "Soundbar"],
            ["matte", "soft-touch", "brushed aluminium", "fabric-wrapped"],
            ["commuting", "movie nights", "focus at work"],
        ),
        "phone accessories": _subcategory(
            22,
            1.2,
            "finish",
            ["Phone Case", "Wireless Charger", "USB-C Cable", "Power Bank", "Car Mount"],
            ["matte", "soft-touch", "clear", "brushed metal"],
            ["daily use", "travel", "the car"],
        ),
        "computing": _subcategory(
            75,
            1.0,
            "finish",
            ["Mechanical Keyboard", "Wireless Mouse", "USB-C Hub", "Laptop Stand", "Webcam"],
            ["matte", "brushed aluminium", "space grey", "soft-touch"],
            ["the home office", "gaming", "video calls"],
        ),
        "smart home": _subcategory(
            55,
            0.8,
            "finish",
            ["Smart Plug", "Video Doorbell", "Smart Bulb", "Thermostat", "Indoor Camera"],
            ["matte", "gloss", "brushed metal"],
            ["saving energy", "peace of mind while away", "hands-free routines"],
        ),
    },
    "beauty": {
        "skincare": _subcategory(
            24,
            1.2,
            "with",
            ["Face Serum", "Moisturiser", "Cleanser", "Sunscreen SPF 50", "Eye Cream"],
            ["hyaluronic acid", "niacinamide", "vitamin C", "ceramides", "squalane"],
            ["a morning routine", "sensitive skin", "dry winter skin"],
            cycle=45,
        ),
        "haircare": _subcategory(
            16,
            0.9,
            "with",
            ["Shampoo", "Conditioner", "Hair Mask", "Leave-In Cream"],
            ["argan oil", "rice protein", "coconut milk", "keratin"],
            ["curly hair", "fine hair", "daily washing"],
        ),
        "fragrance": _subcategory(
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
        "coffee": _subcategory(
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
        "tea": _subcategory(
            9,
            0.8,
            "food",
            ["Green Tea", "Black Tea", "Herbal Infusion", "Matcha Powder", "Chai Blend"],
            ["organic leaves", "hand-picked leaves", "leaves from a single estate"],
            ["a calm afternoon", "an early start", "winding down"],
            cycle=30,
        ),
        "snacks": _subcategory(
            6,
            1.0,
            "food",
            ["Dark Chocolate Bar", "Trail Mix", "Granola", "Salted Almonds", "Oat Crackers"],
            ["organic ingredients", "whole-food ingredients", "no added sugar"],
            ["the office drawer", "hiking", "movie night"],
        ),
        "pantry": _subcategory(
            8,
            0.9,
            "food",
            ["Olive Oil", "Balsamic Vinegar", "Hot Sauce", "Wildflower Honey", "Pasta Sauce"],
            ["organic ingredients", "traditional methods", "ingredients from small producers"],
            ["weeknight dinners", "salads", "gifting"],
        ),
    },
    "pets": {
        "pet food": _subcategory(
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
        "pet toys": _subcategory(
            12,
            0.8,
            "made",
            ["Rope Toy", "Chew Ball", "Tug Toy", "Puzzle Feeder", "Plush Toy"],
            ["non-toxic materials", "recycled fibres", "durable, pet-safe materials"],
            ["playtime", "keeping busy while you are out", "teething puppies"],
        ),
        "pet care": _subcategory(
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

TIERS = ("premium", "mid", "budget")  # brand tiers; behaviour.TIER_* are indexed in this order
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
