"""Realistic demo audience: people, their devices and ~90 days of shopping-app behaviour.

Used by `manage.py seed_demo`; the cities people live in are `apps.audience.cities`. Everything slow (Faker, phone-number validation, JSON
serialisation of catalogue items) happens once, into pools (`DemoPools`); generating a
profile is then a handful of `random` calls and string joins, which is what makes a million
profiles with 40 million events feasible on a small machine.

This module imports nothing from Django so that the loader's worker processes start fast.
It is longer than ~400 lines on purpose: most of it is reference tables (currencies, area
codes, products, devices), kept beside the one generator that reads them in its hot loop.
Rows come out as tuples of plain values (epoch seconds for times, pre-serialised JSON for
properties); `copy_lines_*` turn them into PostgreSQL COPY text.
"""

# The reference tables below keep one record per line, which reads better than wrapping.
# ruff: noqa: E501

from __future__ import annotations

import base64
import json
import random
import struct
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from apps.audience.cities import CITIES, City
from apps.providers.kinds.webpush.wire import sandbox_subscription  # plain Python: spawn-safe

DAY = 86400
HISTORY_DAYS = 90
# Events start a little inside the 90-day window so "in the last 90 days" holds even a few
# minutes after seeding.
HISTORY_SECONDS = int((HISTORY_DAYS - 0.25) * DAY)

# Rough units of local currency per US dollar, so prices look local (¥1,500 not ¥10).
USD_RATES = {
    "USD": 1, "CAD": 1.36, "MXN": 17, "BRL": 5, "ARS": 900, "COP": 3900, "CLP": 930,
    "GBP": 0.79, "EUR": 0.92, "SEK": 10.5, "PLN": 4, "TRY": 32, "RUB": 90, "AED": 3.67,
    "SAR": 3.75, "EGP": 48, "NGN": 1500, "KES": 130, "ZAR": 18.5, "INR": 83, "IDR": 16000,
    "SGD": 1.35, "JPY": 150, "KRW": 1350, "CNY": 7.2, "TWD": 32, "VND": 25000, "THB": 36,
    "PHP": 57, "AUD": 1.52, "NZD": 1.65,
}  # fmt: skip
# Mobile numbers in North America carry the city's area code.
AREA_CODES = {
    "New York": ("212", "646", "917", "718", "347"), "Los Angeles": ("213", "310", "323", "424"),
    "Chicago": ("312", "773", "872"), "Houston": ("713", "832", "281"),
    "San Francisco": ("415", "628"), "Miami": ("305", "786"), "Seattle": ("206",),
    "Toronto": ("416", "647", "437"), "Montreal": ("514", "438"),
}  # fmt: skip
WHOLE_CURRENCIES = {"ARS", "COP", "CLP", "IDR", "JPY", "KRW", "VND", "NGN", "KES", "TWD"}

EMAIL_DOMAINS_GLOBAL = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com")  # fmt: skip
EMAIL_DOMAINS_LOCAL = {
    "DE": ("web.de", "gmx.de", "t-online.de"), "FR": ("orange.fr", "free.fr", "laposte.net"),
    "RU": ("yandex.ru", "mail.ru"), "KR": ("naver.com", "daum.net"), "CN": ("qq.com", "163.com"),
    "JP": ("yahoo.co.jp", "docomo.ne.jp"), "IN": ("rediffmail.com", "yahoo.co.in"),
    "IT": ("libero.it", "virgilio.it"), "BR": ("uol.com.br", "bol.com.br"), "GB": ("btinternet.com", "sky.com"),
    "PL": ("wp.pl", "onet.pl"), "TR": ("yandex.com.tr",), "NL": ("ziggo.nl", "kpnmail.nl"),
    "SE": ("telia.com",), "AU": ("bigpond.com",), "TW": ("yahoo.com.tw",),
}  # fmt: skip
FAMILY_NAME_FIRST = {"ja_JP", "zh_CN", "zh_TW", "ko_KR"}  # written family name first, no space

CATEGORIES = {
    "Electronics": (("Wireless Earbuds", 59), ("Bluetooth Speaker", 45), ("Smartwatch", 199), ("USB-C Charger", 25), ("Noise Cancelling Headphones", 249), ("4K Action Camera", 179), ("Power Bank 20000mAh", 39), ("Mechanical Keyboard", 89)),
    "Fashion": (("Denim Jacket", 79), ("Linen Shirt", 39), ("Summer Dress", 49), ("Wool Sweater", 69), ("Chino Trousers", 45), ("Leather Belt", 29), ("Rain Coat", 99), ("Graphic T-Shirt", 19)),
    "Shoes": (("Running Shoes", 89), ("Canvas Sneakers", 55), ("Leather Boots", 139), ("Trail Runners", 119), ("Sandals", 35), ("Slip-on Loafers", 75)),
    "Home & Kitchen": (("Chef's Knife", 49), ("Cast Iron Pan", 39), ("Coffee Grinder", 59), ("Cotton Bed Sheets", 69), ("Scented Candle", 19), ("Air Fryer", 99), ("Ceramic Mug Set", 29)),
    "Beauty": (("Vitamin C Serum", 29), ("Hydrating Face Cream", 24), ("Matte Lipstick", 15), ("Hair Dryer", 79), ("Sunscreen SPF 50", 18), ("Perfume 50ml", 85)),
    "Books": (("Mystery Novel", 14), ("Cookbook", 29), ("Science Fiction Paperback", 12), ("Travel Guide", 22), ("Children's Picture Book", 11), ("Business Bestseller", 25)),
    "Sports": (("Yoga Mat", 35), ("Adjustable Dumbbells", 149), ("Cycling Helmet", 65), ("Football", 25), ("Fitness Tracker", 99), ("Water Bottle", 15)),
    "Toys": (("Building Blocks Set", 49), ("Remote Control Car", 59), ("Board Game", 35), ("Plush Bear", 19), ("Puzzle 1000 pieces", 17)),
    "Grocery": (("Organic Coffee Beans", 16), ("Green Tea", 9), ("Dark Chocolate", 5), ("Olive Oil 1L", 14), ("Protein Bars 12-pack", 24)),
}  # fmt: skip
COLOURS = ("Black", "White", "Blue", "Red", "Green", "Grey", "Navy", "Beige")
SEARCH_TERMS = (
    "shoes", "headphones", "dress", "gift for her", "gift for him", "yoga", "coffee", "sale",
    "running", "jacket", "phone case", "skincare", "lego", "kitchen", "watch", "backpack",
    "sneakers", "perfume", "books", "camping",
)  # fmt: skip
PAYMENT_MODES = (("Credit card", 45), ("Debit card", 20), ("PayPal", 12), ("Apple Pay", 8), ("Google Pay", 8), ("Cash on delivery", 4), ("Gift card", 3))  # fmt: skip
PLANS = (("free", 70), ("basic", 18), ("premium", 10), ("business", 2))
SIGNUP_SOURCES = (("organic", 35), ("google_ads", 20), ("facebook_ads", 15), ("referral", 12), ("email", 8), ("app_store", 7), ("tiktok", 3))  # fmt: skip
NOTIFICATION_CAMPAIGNS = ("Weekend Sale", "Back in Stock", "Price Drop", "New Arrivals", "Cart Reminder", "Loyalty Bonus")  # fmt: skip

ANDROID_MODELS = (
    ("Samsung", "Galaxy S24", 14), ("Samsung", "Galaxy S23", 13), ("Samsung", "Galaxy A54", 13),
    ("Samsung", "Galaxy A14", 13), ("Google", "Pixel 8", 14), ("Google", "Pixel 7a", 14),
    ("Xiaomi", "Redmi Note 13", 13), ("Xiaomi", "Redmi Note 12", 12), ("OnePlus", "OnePlus 11", 14),
    ("Oppo", "A78", 13), ("Vivo", "Y36", 13), ("Motorola", "Moto G84", 13), ("Realme", "11 Pro", 13),
)  # fmt: skip
IOS_MODELS = ("iPhone 15 Pro", "iPhone 15", "iPhone 14", "iPhone 14 Pro Max", "iPhone 13", "iPhone 12", "iPhone SE (3rd generation)", "iPhone 11")  # fmt: skip
IOS_VERSIONS = ("17.5.1", "17.4", "17.2.1", "16.7.8", "16.6")
WEB_BROWSERS = (
    ("Chrome", "Windows", "Windows 11"), ("Chrome", "Windows", "Windows 10"),
    ("Chrome", "macOS", "macOS 14.5"), ("Safari", "macOS", "macOS 14.5"),
    ("Firefox", "Windows", "Windows 11"), ("Edge", "Windows", "Windows 11"),
    ("Chrome", "Linux", "Ubuntu 22.04"),
)  # fmt: skip
APP_VERSIONS = ("5.12.0", "5.11.2", "5.11.0", "5.10.1", "5.9.0", "5.8.3")
SDK_VERSIONS = {
    "android": ("6.2.1", "6.1.0", "5.2.2"),
    "ios": ("6.2.0", "6.0.0", "5.3.1"),
    "web": ("1.9.0", "1.8.2"),
}

SCRAMBLE = 0x9E3779B97F4A7C15  # odd, so multiplying by it mod 2**64 is a bijection
MASK64 = (1 << 64) - 1
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _scramble(value: int) -> int:
    """A unique-looking 64-bit number per value: ids stay unique, tokens don't look sequential."""
    return (value * SCRAMBLE) & MASK64


def _copy_safe(text: str) -> bool:
    """True if `text` needs no escaping in COPY text format. Pools keep only such values,
    so rows can be joined as they are (escaping every field would cost more than the rest
    of a row's formatting)."""
    return not any(ch in text for ch in "\\\t\n\r")


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _weighted(pairs) -> tuple[list, list[float]]:
    values, weights = zip(*pairs, strict=True)
    return list(values), list(weights)


def _money(amount: float, currency: str) -> float | int:
    return round(amount) if currency in WHOLE_CURRENCIES else round(amount, 2)


@dataclass
class Product:
    name: str
    category: str
    prices: dict[str, float | int]  # by currency


@dataclass
class DemoPools:
    """Everything expensive, computed once per run and shared by the workers (picklable)."""

    names: dict[str, dict[str, list]]  # locale -> {"M": [...], "F": [...], "last": [...]}
    # iso2 or city -> ["+1212555", ...] (all but the last 4 digits)
    phone_prefixes: dict[str, list[str]]
    products: list[Product] = field(default_factory=list)


def build_pools(*, seed: int, names_per_locale: int = 300) -> DemoPools:
    """Names from Faker and valid mobile-number prefixes from phonenumbers, once per run."""
    from faker import Faker

    names: dict[str, dict[str, list]] = {}
    for locale in sorted({city.locale for city in CITIES}):
        fake = Faker(locale)
        fake.seed_instance(seed)
        romanized = hasattr(fake, "first_romanized_name")
        entry: dict[str, list] = {"M": [], "F": [], "last": []}
        for _ in range(names_per_locale):
            # (display name, ascii form for e-mail addresses)
            for key, make in (("M", fake.first_name_male), ("F", fake.first_name_female)):
                first = make()
                if _copy_safe(first):
                    entry[key].append((first, _ascii(first)))
            last = fake.last_name()
            if _copy_safe(last):
                entry["last"].append((last, _ascii(last)))
            if romanized:
                # Kanji/hanzi have no ASCII fold; a romanized pool gives plausible addresses.
                entry.setdefault("latin", []).append(
                    (_ascii(fake.first_romanized_name()), _ascii(fake.last_romanized_name()))
                )
        names[locale] = entry
    rng = random.Random(seed)
    return DemoPools(
        names=names,
        phone_prefixes={
            **{iso2: _phone_prefixes(iso2, rng) for iso2 in sorted({c.iso2 for c in CITIES})},
            **{
                city.city: _phone_prefixes(city.iso2, rng, leads=AREA_CODES[city.city])
                for city in CITIES
                if city.city in AREA_CODES
            },
        },
        products=_catalogue(),
    )


def _phone_prefixes(
    iso2: str, rng: random.Random, *, leads: tuple[str, ...] = (), wanted: int = 200
) -> list[str]:
    """E.164 prefixes (all but the last four digits) of mobile numbers valid in `iso2`,
    starting with one of `leads` (national digits, e.g. area codes) if given.

    A prefix is kept only if the numbers ending in 0000 and in 9999 are both valid, so any
    four random digits after it make a valid number (numbering plans end in free digits)."""
    import phonenumbers
    from phonenumbers import PhoneNumberType

    example = phonenumbers.example_number_for_type(iso2, PhoneNumberType.MOBILE)
    code = example.country_code
    national = str(example.national_number)
    mobile_types = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}

    def valid(digits: str) -> bool:
        number = phonenumbers.parse(f"+{code}{digits}")
        return (
            phonenumbers.is_valid_number_for_region(number, iso2)
            and phonenumbers.number_type(number) in mobile_types
        )

    def random_digits(count: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(count))

    prefixes: set[str] = set()
    free = len(national) - 4
    if leads:
        starts = [(lead, free - len(lead)) for lead in leads]
    else:
        # Randomise all but the first digit, then keep ever more of the example's leading
        # digits (closer to a real mobile range) until enough valid prefixes turn up.
        starts = [(national[:keep], free - keep) for keep in range(1, free + 1)]
    # Given leads share the pool equally; otherwise the first levels may fill it.
    quota = wanted // len(starts) if leads else wanted
    for lead, random_count in starts:
        found: set[str] = set()
        for _ in range(400):
            prefix = lead + random_digits(random_count)
            if valid(prefix + "0000") and valid(prefix + "9999"):
                found.add(f"+{code}{prefix}")
            if len(found) >= quota or len(prefixes | found) >= wanted:
                break
        prefixes |= found
        if len(prefixes) >= wanted:
            break
    if not prefixes:  # the example number itself is valid by definition
        prefixes.add(f"+{code}{national[:-4]}")
    return sorted(prefixes)


def _catalogue() -> list[Product]:
    products = []
    for category, items in CATEGORIES.items():
        for index, (base_name, usd) in enumerate(items):
            for colour_index, colour in enumerate(COLOURS[:4]):
                # Deterministic spread of prices around the list price.
                usd_price = usd * (0.85 + 0.1 * ((index + colour_index) % 4)) - 0.01
                prices = {cur: _money(usd_price * rate, cur) for cur, rate in USD_RATES.items()}
                products.append(Product(f"{base_name} ({colour})", category, prices))
    return products


def _json(value) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    assert _copy_safe(text), text  # our catalogue has no control characters or backslashes
    return text


@dataclass
class ProfileRow:
    id: int
    identity: str
    object_id: str
    fbid: str | None
    email: str
    phone: str
    name: str
    gender: str
    date_of_birth: str  # ISO date
    city: City
    latitude: float
    longitude: float
    properties: str  # JSON
    email_unsubscribed: bool
    sms_unsubscribed: bool
    push_opt_out: bool
    first_seen: int  # epoch seconds
    last_seen: int


@dataclass
class DeviceRow:
    profile_id: int
    platform: str
    push_token: str
    app_version: str
    make: str
    model: str
    os_version: str
    sdk_version: str
    last_active: int
    created_at: int
    push_keys: str = ""  # Web Push subscriptions: their keys as JSON


class DemoGenerator:
    """Turns a block of profile ids into profiles, devices and events.

    Each block is generated from its own `random.Random(seed, block)`, so the output does not
    depend on which worker process handles which block."""

    def __init__(
        self, *, pools: DemoPools, now: int, events_per_profile: float, web_push_base: str
    ):
        self.pools = pools
        self.now = now
        self.events_per_profile = events_per_profile
        self._today_ordinal = datetime.fromtimestamp(now, UTC).date().toordinal()
        self.token_filler = TokenFiller(random.Random(now))
        # Web devices are browser push subscriptions on the sandbox's Web Push service (the
        # demo's "Web Push (sandbox)" provider, demo.providers), whose keys the sandbox can
        # decrypt to.
        self.web_push_base = web_push_base
        self.cities = list(CITIES)
        self.city_weights = [c.weight for c in CITIES]
        self.plans = _weighted(PLANS)
        self.sources = _weighted(SIGNUP_SOURCES)
        self.payment_modes = _weighted(PAYMENT_MODES)
        self.categories = list(CATEGORIES)
        by_category: dict[str, list[int]] = {}
        for index, product in enumerate(pools.products):
            by_category.setdefault(product.category, []).append(index)
        self.products_by_category = [by_category[c] for c in self.categories]
        currencies = sorted(USD_RATES)
        self.currency_index = {cur: i for i, cur in enumerate(currencies)}
        # Pre-serialised event properties, indexed [currency][product].
        self.viewed_json = []
        self.cart_json = []
        self.item_json = []  # [currency][product][quantity-1] -> one Items entry
        for cur in currencies:
            viewed, cart, item = [], [], []
            for p in pools.products:
                price = p.prices[cur]
                base = {"Product": p.name, "Category": p.category, "Price": price}
                viewed.append(_json({**base, "Currency": cur}))
                cart.append(_json({**base, "Currency": cur, "Quantity": 1}))
                item.append(
                    [
                        _json(
                            {"Category": p.category, "Name": p.name, "Price": price, "Quantity": q}
                        )
                        for q in (1, 2, 3)
                    ]
                )
            self.viewed_json.append(viewed)
            self.cart_json.append(cart)
            self.item_json.append(item)
        self.prices = [[p.prices[cur] for p in pools.products] for cur in currencies]
        self.search_json = [_json({"Query": term}) for term in SEARCH_TERMS]
        self.category_json = [_json({"Category": c}) for c in self.categories]
        self.notification_json = [
            _json({"Campaign": c, "Channel": ch})
            for c in NOTIFICATION_CAMPAIGNS
            for ch in ("push", "email")
        ]
        self.launch_json = [_json({"Source": s}) for s in ("direct", "push", "deep_link")]

    # --- profiles --------------------------------------------------------------------------

    def block(self, *, seed: int, block: int, ids: list[int]):
        """Profiles, devices and events for `ids`: (profiles, devices, events) where events
        are (profile_id, name, epoch_seconds, properties_json) tuples."""
        rng = random.Random(f"{seed}:{block}")
        profiles: list[ProfileRow] = []
        devices: list[DeviceRow] = []
        events: list[tuple] = []
        cities = rng.choices(self.cities, self.city_weights, k=len(ids))
        for pid, city in zip(ids, cities, strict=True):
            profile = self._profile(rng, pid, city)
            first, last = self._events(rng, profile, events)
            profile.first_seen, profile.last_seen = first, last
            profiles.append(profile)
            self._devices(rng, profile, devices)
        return profiles, devices, events

    def _profile(self, rng: random.Random, pid: int, city: City) -> ProfileRow:
        random_ = rng.random
        names = self.pools.names[city.locale]
        roll = random_()
        gender = "F" if roll < 0.49 else "M" if roll < 0.96 else "O" if roll < 0.98 else ""
        first, first_ascii = rng.choice(names["F" if gender == "F" else "M"])
        last, last_ascii = rng.choice(names["last"])
        name = f"{last}{first}" if city.locale in FAMILY_NAME_FIRST else f"{first} {last}"
        if not first_ascii or not last_ascii:
            first_ascii, last_ascii = rng.choice(names.get("latin") or [("user", "")])
        style = random_()
        if style < 0.4:
            local = f"{first_ascii}.{last_ascii}"
        elif style < 0.7:
            local = f"{first_ascii}{last_ascii}{rng.randint(1, 99)}"
        elif style < 0.9:
            local = f"{first_ascii[:1]}{last_ascii}{rng.randint(1950, 2008)}"
        else:
            local = f"{first_ascii}_{rng.randint(100, 9999)}"
        local_domains = EMAIL_DOMAINS_LOCAL.get(city.iso2)
        domain = (
            rng.choice(local_domains)
            if local_domains and random_() < 0.35
            else rng.choice(EMAIL_DOMAINS_GLOBAL)
        )
        age_days = int(365.25 * (16 + 55 * random_() ** 1.6))
        dob = date.fromordinal(self._today_ordinal - age_days).isoformat()
        points = int(random_() ** 3 * 20000)
        props = (
            f'{{"plan": "{rng.choices(*self.plans)[0]}", "loyalty_points": {points}, '
            f'"signup_source": "{rng.choices(*self.sources)[0]}", '
            f'"favorite_category": "{rng.choice(self.categories)}", '
            f'"marketing_consent": {"true" if random_() < 0.8 else "false"}}}'
        )
        scrambled = _scramble(pid)
        phones = self.pools.phone_prefixes.get(city.city) or self.pools.phone_prefixes[city.iso2]
        return ProfileRow(
            id=pid,
            identity=f"cust-{pid:08d}",
            object_id=f"__h{scrambled:016x}{rng.getrandbits(48):012x}",
            fbid=str(100000000000000 + pid) if random_() < 0.15 else None,
            email=f"{local}@{domain}" if random_() < 0.93 else "",
            phone=(rng.choice(phones) + f"{rng.randrange(10000):04d}") if random_() < 0.85 else "",
            name=name,
            gender=gender,
            date_of_birth=dob if random_() < 0.9 else "",
            city=city,
            latitude=round(city.latitude + rng.uniform(-0.12, 0.12), 5),
            longitude=round(city.longitude + rng.uniform(-0.12, 0.12), 5),
            properties=props,
            email_unsubscribed=random_() < 0.04,
            sms_unsubscribed=random_() < 0.03,
            push_opt_out=random_() < 0.06,
            first_seen=0,
            last_seen=0,
        )

    def _devices(self, rng: random.Random, profile: ProfileRow, devices: list[DeviceRow]) -> None:
        fill = self.token_filler
        roll = rng.random()
        count = 0 if roll < 0.12 else 1 if roll < 0.67 else 2 if roll < 0.92 else 3
        pid = profile.id
        for ordinal in range(count):
            roll = rng.random()
            platform = "android" if roll < 0.6 else "ios" if roll < 0.9 else "web"
            if ordinal and platform != "web" and rng.random() < 0.5:
                platform = "web"  # second devices are often the website
            unique = _scramble(pid * 4 + ordinal)
            if platform == "android":
                make, model, os_major = rng.choice(ANDROID_MODELS)
                os_version = str(os_major - (rng.random() < 0.3))
                head = base64.urlsafe_b64encode(unique.to_bytes(8, "big")).decode()[:11]
                token = f"{head}{fill.pick(fill.short, rng)}:APA91b{fill.pick(fill.long, rng)}"
            elif platform == "ios":
                make, model, os_version = "Apple", rng.choice(IOS_MODELS), rng.choice(IOS_VERSIONS)
                token = f"{unique:016x}{fill.pick(fill.hex, rng)}"
            else:
                make, model, os_version = rng.choice(WEB_BROWSERS)
                subscription = sandbox_subscription(self.web_push_base, f"demo-{unique:016x}")
                token = subscription["endpoint"]
                keys = json.dumps(subscription["keys"], separators=(",", ":"))
            if platform != "web":
                keys = ""
            if ordinal == 0:
                last_active = profile.last_seen
            else:
                last_active = rng.randint(profile.first_seen, profile.last_seen)
            devices.append(
                DeviceRow(
                    profile_id=pid,
                    platform=platform,
                    push_token=token,
                    app_version="" if platform == "web" else rng.choice(APP_VERSIONS),
                    make=make,
                    model=model,
                    os_version=os_version,
                    sdk_version=rng.choice(SDK_VERSIONS[platform]),
                    last_active=last_active,
                    created_at=min(
                        profile.first_seen + ordinal * rng.randint(0, 3 * DAY), last_active
                    ),
                    push_keys=keys,
                )
            )

    # --- events ----------------------------------------------------------------------------

    def _events(self, rng: random.Random, profile: ProfileRow, out: list[tuple]) -> tuple[int, int]:
        """Append the profile's events (in time order) to `out`; returns (first, last) ts.

        The shape of a session: launch the app (sometimes from a notification), browse one
        favourite category with a search now and then, put things in the cart and, often
        but not always, pay — so abandoned carts exist. This loop runs for every event of a
        big load, hence the `random()`-based picks (rng.choice is several times slower)."""
        random_ = rng.random
        now = self.now
        total = max(1, int(rng.gammavariate(2.0, self.events_per_profile / 2.0) + 0.5))
        # Active window: most people started weeks ago and are still around; some churned.
        start = now - int(HISTORY_SECONDS * random_() ** 0.7)
        span = int((now - start) * (1.0 - 0.8 * random_() ** 4))
        sessions = max(1, round(total / (3 + 4 * random_())))
        starts = sorted([start + int(span * random_()) for _ in range(sessions)])
        starts[0] = start
        currency = profile.city.currency
        cur = self.currency_index[currency]
        viewed_json, cart_json = self.viewed_json[cur], self.cart_json[cur]
        item_json, prices = self.item_json[cur], self.prices[cur]
        by_category = self.products_by_category
        n_categories = len(by_category)
        category_json, search_json = self.category_json, self.search_json
        n_searches = len(search_json)
        favourite = int(random_() * n_categories)
        pid = profile.id
        append = out.append
        remaining = total
        per_session = total / sessions
        last = 0
        for index, t in enumerate(starts):
            if t <= last:  # sessions never overlap: events stay in time order
                t = last + 60 + int(600 * random_())
            if t > now:
                t = now
            if index == sessions - 1:
                size = remaining
            else:
                size = min(remaining, max(1, int(per_session * (0.5 + random_()))))
            if size <= 0:
                break
            remaining -= size
            if size > 1 and random_() < 0.08:
                notification = self.notification_json
                append(
                    (
                        pid,
                        "Notification Clicked",
                        t,
                        notification[int(random_() * len(notification))],
                    )
                )
                size -= 1
                t += 2
            launched = t if t < now else now
            append((pid, "App Launched", launched, self.launch_json[0 if random_() < 0.85 else 2]))
            category = by_category[favourite if random_() < 0.6 else int(random_() * n_categories)]
            product = category[int(random_() * len(category))]
            cart: list[int] = []
            final_step = size - 2
            for step in range(size - 1):
                t += 5 + int(90 * random_())
                roll = random_()
                if roll < 0.55 and cart and step == final_step:
                    parts, amount = [], 0.0
                    for item in cart:
                        quantity = 1 if random_() < 0.8 else 2
                        parts.append(item_json[item][quantity - 1])
                        amount += prices[item] * quantity
                    amount = round(amount) if currency in WHOLE_CURRENCIES else round(amount, 2)
                    mode = rng.choices(*self.payment_modes)[0]
                    append((
                        pid, "Charged", t if t < now else now,
                        f'{{"Amount": {amount}, "Currency": "{currency}", '
                        f'"Payment mode": "{mode}", "Items": [{", ".join(parts)}]}}',
                    ))  # fmt: skip
                    cart = []
                elif roll < 0.55:
                    product = category[int(random_() * len(category))]
                    append((pid, "Product Viewed", t if t < now else now, viewed_json[product]))
                elif roll < 0.72:
                    cart.append(product)
                    append((pid, "Added To Cart", t if t < now else now, cart_json[product]))
                elif roll < 0.82:
                    query = search_json[int(random_() * n_searches)]
                    append((pid, "Searched", t if t < now else now, query))
                elif roll < 0.92:
                    browsed = int(random_() * n_categories)
                    category = by_category[browsed]
                    append((pid, "Category Viewed", t if t < now else now, category_json[browsed]))
                else:
                    append((pid, "Added To Wishlist", t if t < now else now, cart_json[product]))
            last = t if t < now else now
        return start if start < now else now, last


class TokenFiller:
    """Random-looking token bodies from a pool: drawing 134 random characters per device is
    slow, and uniqueness comes from each token's id-derived head anyway."""

    def __init__(self, rng: random.Random, *, size: int = 1024):
        self.long = [_rand_b64(rng, 134) for _ in range(size)]
        self.short = [_rand_b64(rng, 11) for _ in range(size)]
        self.hex = [f"{rng.getrandbits(192):048x}" for _ in range(size)]

    def pick(self, pool: list[str], rng: random.Random) -> str:
        return pool[int(rng.random() * len(pool))]


def _rand_b64(rng: random.Random, length: int) -> str:
    bits = rng.getrandbits(6 * length)
    return "".join(B64URL[(bits >> (6 * i)) & 63] for i in range(length))


# --- PostgreSQL COPY text ------------------------------------------------------------------

PROFILE_COLUMNS = (
    "id", "identity", "object_id", "fbid", "email", "phone", "name", "gender", "date_of_birth",
    "country", "region", "city", "latitude", "longitude", "timezone", "language", "properties",
    "email_unsubscribed", "sms_unsubscribed", "push_opt_out", "is_test", "first_seen",
    "last_seen", "created_at", "updated_at",
)  # fmt: skip
DEVICE_COLUMNS = (
    "profile_id", "platform", "push_token", "app_version", "make", "model", "os_version",
    "sdk_version", "last_active", "created_at", "push_keys",
)  # fmt: skip
EVENT_COLUMNS = ("profile_id", "name", "ts", "properties")


class TimestampText:
    """Epoch seconds → timestamptz text by table lookup (hour prefix + "MM:SS" suffix):
    ten times faster than formatting a datetime, and timestamps are most of an event row."""

    def __init__(self, *, start: int, end: int):
        self.base = start - start % 3600
        hours = (end - self.base) // 3600 + 2
        self.hours = [
            datetime.fromtimestamp(self.base + h * 3600, UTC).strftime("%Y-%m-%d %H:")
            for h in range(hours)
        ]
        self.minute_seconds = [f"{s // 60:02d}:{s % 60:02d}+00" for s in range(3600)]

    def __call__(self, ts: int) -> str:
        offset = ts - self.base
        if offset < 0:
            return datetime.fromtimestamp(ts, UTC).isoformat()
        hour, rest = divmod(offset, 3600)
        return self.hours[hour] + self.minute_seconds[rest]


NULL = "\\N"


def _b(value: bool) -> str:
    return "t" if value else "f"


def copy_lines_profiles(profiles: list[ProfileRow], ts: TimestampText, updated_at: str) -> str:
    lines = []
    for p in profiles:
        c = p.city
        lines.append(
            f"{p.id}\t{p.identity}\t{p.object_id}\t{p.fbid or NULL}\t{p.email}\t{p.phone}\t"
            f"{p.name}\t{p.gender}\t{p.date_of_birth or NULL}\t{c.country}\t{c.region}\t"
            f"{c.city}\t{p.latitude}\t{p.longitude}\t{c.timezone}\t{c.language}\t{p.properties}\t"
            f"{_b(p.email_unsubscribed)}\t{_b(p.sms_unsubscribed)}\t{_b(p.push_opt_out)}\tf\t"
            f"{ts(p.first_seen)}\t{ts(p.last_seen)}\t{ts(p.first_seen)}\t{updated_at}\n"
        )
    return "".join(lines)


def copy_lines_devices(devices: list[DeviceRow], ts: TimestampText) -> str:
    return "".join(
        f"{d.profile_id}\t{d.platform}\t{d.push_token}\t{d.app_version}\t{d.make}\t{d.model}\t"
        f"{d.os_version}\t{d.sdk_version}\t{ts(d.last_active)}\t{ts(d.created_at)}\t"
        f"{d.push_keys or NULL}\n"
        for d in devices
    )


class BinaryEvents:
    """Events → PostgreSQL binary COPY. Most of a text COPY row's server-side cost is parsing
    the integer and the timestamp; in binary they arrive as 8-byte integers. (jsonb is still
    sent as text — its binary format is a version byte plus the JSON text.)"""

    HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    TRAILER = b"\xff\xff"
    PG_EPOCH = 946684800  # 2000-01-01T00:00:00Z, where PostgreSQL's timestamps count from

    def __init__(self):
        self._names: dict[str, bytes] = {}
        # Keyed by the pooled JSON strings themselves: the same few thousand str objects
        # come back again and again (their hash is cached), so each is encoded once.
        self._properties: dict[str, bytes] = {}
        self._row_head = struct.Struct(">hiq").pack  # field count, int8 length, profile_id
        self._ts = struct.Struct(">iq").pack

    def _encode_json(self, text: str) -> bytes:
        raw = text.encode()
        return struct.pack(">ib", len(raw) + 1, 1) + raw

    def encode(self, events: list[tuple]) -> bytes:
        names, properties = self._names, self._properties
        row_head, pack_ts = self._row_head, self._ts
        epoch = self.PG_EPOCH
        parts = [self.HEADER]
        append = parts.append
        last_pid, head = None, b""
        for pid, name, t, props in events:
            if pid != last_pid:
                last_pid, head = pid, row_head(4, 8, pid)
            name_bytes = names.get(name)
            if name_bytes is None:
                raw = name.encode()
                name_bytes = names[name] = struct.pack(">i", len(raw)) + raw
            props_bytes = properties.get(props)
            if props_bytes is None:
                props_bytes = self._encode_json(props)
                if name != "Charged":  # baskets are one-off; everything else is pooled
                    properties[props] = props_bytes
            append(head + name_bytes + pack_ts(8, (t - epoch) * 1_000_000) + props_bytes)
        append(self.TRAILER)
        return b"".join(parts)


# --- PostgreSQL loader (runs in worker processes) ------------------------------------------


@dataclass(frozen=True)
class LoadPlan:
    """What every worker needs to generate and COPY its blocks; picklable for spawn."""

    conninfo: dict
    pools: DemoPools
    now: int
    seed: int
    events_per_profile: float
    web_push_base: str  # demo.providers.demo_web_push_base(): no Django in the workers


_worker: dict = {}


def worker_start(plan: LoadPlan) -> None:
    import psycopg

    connection = psycopg.connect(**plan.conninfo, autocommit=True)
    # Losing the last second of a demo load in a server crash is acceptable; waiting for
    # a WAL flush at every block's commit is not needed.
    connection.execute("SET synchronous_commit = off")
    sequence = connection.execute(
        "SELECT pg_get_serial_sequence('audience_profile', 'id')"
    ).fetchone()[0]
    _worker.update(
        plan=plan,
        connection=connection,
        sequence=sequence,
        generator=DemoGenerator(
            pools=plan.pools,
            now=plan.now,
            events_per_profile=plan.events_per_profile,
            web_push_base=plan.web_push_base,
        ),
        ts=TimestampText(start=plan.now - HISTORY_DAYS * DAY - DAY, end=plan.now),
        binary_events=BinaryEvents(),
    )


def worker_load_block(task: tuple[int, int]) -> tuple[int, int, int]:
    """Generate block `index` of `size` profiles and COPY it in one transaction."""
    index, size = task
    plan: LoadPlan = _worker["plan"]
    connection = _worker["connection"]
    ts: TimestampText = _worker["ts"]
    with connection.transaction():
        # Ids come from the table's own sequence, so rows written by the API meanwhile or by
        # an earlier seed never collide with ours; concurrent callers just interleave.
        ids = [
            row[0]
            for row in connection.execute(
                "SELECT nextval(%s) FROM generate_series(1, %s)", (_worker["sequence"], size)
            )
        ]
        profiles, devices, events = _worker["generator"].block(seed=plan.seed, block=index, ids=ids)
        updated_at = ts(plan.now)
        with connection.cursor() as cursor:
            _copy(
                cursor,
                "audience_profile",
                PROFILE_COLUMNS,
                copy_lines_profiles(profiles, ts, updated_at),
            )
            _copy(cursor, "audience_device", DEVICE_COLUMNS, copy_lines_devices(devices, ts))
            _copy(
                cursor,
                "audience_event",
                EVENT_COLUMNS,
                _worker["binary_events"].encode(events),
                binary=True,
            )
    return len(profiles), len(devices), len(events)


def _copy(cursor, table: str, columns: tuple[str, ...], data, *, binary: bool = False) -> None:
    options = " (FORMAT binary)" if binary else ""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN{options}") as copy:
        copy.write(data)
