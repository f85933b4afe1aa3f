"""The cities the demo audience lives in, with their centres, time zones and locales.

The demo loader (`apps.demo.audience`) spreads its people over them by `weight`; the segment
builder offers their centres in the radius filter's city list. Plain Python, no Django, so the
loader's worker processes start fast.
"""

# The table keeps one record per line, which reads better than wrapping.
# ruff: noqa: E501

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    country: str
    iso2: str
    region: str
    city: str
    latitude: float
    longitude: float
    timezone: str
    language: str
    locale: str  # Faker locale used for names
    currency: str
    weight: float  # share of the demo audience, roughly by market size


CITIES: tuple[City, ...] = (
    City("United States", "US", "New York", "New York", 40.7128, -74.0060, "America/New_York", "en", "en_US", "USD", 6),
    City("United States", "US", "California", "Los Angeles", 34.0522, -118.2437, "America/Los_Angeles", "en", "en_US", "USD", 4),
    City("United States", "US", "Illinois", "Chicago", 41.8781, -87.6298, "America/Chicago", "en", "en_US", "USD", 3),
    City("United States", "US", "Texas", "Houston", 29.7604, -95.3698, "America/Chicago", "en", "en_US", "USD", 3),
    City("United States", "US", "California", "San Francisco", 37.7749, -122.4194, "America/Los_Angeles", "en", "en_US", "USD", 2),
    City("United States", "US", "Florida", "Miami", 25.7617, -80.1918, "America/New_York", "en", "en_US", "USD", 2),
    City("United States", "US", "Washington", "Seattle", 47.6062, -122.3321, "America/Los_Angeles", "en", "en_US", "USD", 2),
    City("Canada", "CA", "Ontario", "Toronto", 43.6532, -79.3832, "America/Toronto", "en", "en_CA", "CAD", 2),
    City("Canada", "CA", "Quebec", "Montreal", 45.5019, -73.5674, "America/Toronto", "fr", "fr_CA", "CAD", 1),
    City("Mexico", "MX", "Ciudad de México", "Mexico City", 19.4326, -99.1332, "America/Mexico_City", "es", "es_MX", "MXN", 3),
    City("Brazil", "BR", "São Paulo", "São Paulo", -23.5505, -46.6333, "America/Sao_Paulo", "pt", "pt_BR", "BRL", 4),
    City("Brazil", "BR", "Rio de Janeiro", "Rio de Janeiro", -22.9068, -43.1729, "America/Sao_Paulo", "pt", "pt_BR", "BRL", 2),
    City("Argentina", "AR", "Buenos Aires", "Buenos Aires", -34.6037, -58.3816, "America/Argentina/Buenos_Aires", "es", "es_AR", "ARS", 2),
    City("Colombia", "CO", "Bogotá D.C.", "Bogotá", 4.7110, -74.0721, "America/Bogota", "es", "es_CO", "COP", 1.5),
    City("Chile", "CL", "Santiago Metropolitan", "Santiago", -33.4489, -70.6693, "America/Santiago", "es", "es_CL", "CLP", 1),
    City("United Kingdom", "GB", "England", "London", 51.5074, -0.1278, "Europe/London", "en", "en_GB", "GBP", 4),
    City("United Kingdom", "GB", "England", "Manchester", 53.4808, -2.2426, "Europe/London", "en", "en_GB", "GBP", 1.5),
    City("Ireland", "IE", "Leinster", "Dublin", 53.3498, -6.2603, "Europe/Dublin", "en", "en_IE", "EUR", 1),
    City("France", "FR", "Île-de-France", "Paris", 48.8566, 2.3522, "Europe/Paris", "fr", "fr_FR", "EUR", 3),
    City("France", "FR", "Auvergne-Rhône-Alpes", "Lyon", 45.7640, 4.8357, "Europe/Paris", "fr", "fr_FR", "EUR", 1),
    City("Germany", "DE", "Berlin", "Berlin", 52.5200, 13.4050, "Europe/Berlin", "de", "de_DE", "EUR", 3),
    City("Germany", "DE", "Bavaria", "Munich", 48.1351, 11.5820, "Europe/Berlin", "de", "de_DE", "EUR", 2),
    City("Spain", "ES", "Community of Madrid", "Madrid", 40.4168, -3.7038, "Europe/Madrid", "es", "es_ES", "EUR", 2),
    City("Spain", "ES", "Catalonia", "Barcelona", 41.3874, 2.1686, "Europe/Madrid", "es", "es_ES", "EUR", 1.5),
    City("Italy", "IT", "Lombardy", "Milan", 45.4642, 9.1900, "Europe/Rome", "it", "it_IT", "EUR", 1.5),
    City("Italy", "IT", "Lazio", "Rome", 41.9028, 12.4964, "Europe/Rome", "it", "it_IT", "EUR", 1.5),
    City("Netherlands", "NL", "North Holland", "Amsterdam", 52.3676, 4.9041, "Europe/Amsterdam", "nl", "nl_NL", "EUR", 1),
    City("Sweden", "SE", "Stockholm County", "Stockholm", 59.3293, 18.0686, "Europe/Stockholm", "sv", "sv_SE", "SEK", 1),
    City("Poland", "PL", "Masovian", "Warsaw", 52.2297, 21.0122, "Europe/Warsaw", "pl", "pl_PL", "PLN", 1),
    City("Turkey", "TR", "Istanbul", "Istanbul", 41.0082, 28.9784, "Europe/Istanbul", "tr", "tr_TR", "TRY", 2),
    City("Russia", "RU", "Moscow", "Moscow", 55.7558, 37.6173, "Europe/Moscow", "ru", "ru_RU", "RUB", 2),
    City("United Arab Emirates", "AE", "Dubai", "Dubai", 25.2048, 55.2708, "Asia/Dubai", "en", "en_IN", "AED", 1),
    City("Saudi Arabia", "SA", "Riyadh Province", "Riyadh", 24.7136, 46.6753, "Asia/Riyadh", "ar", "ar_SA", "SAR", 1.5),
    City("Egypt", "EG", "Cairo Governorate", "Cairo", 30.0444, 31.2357, "Africa/Cairo", "ar", "ar_SA", "EGP", 1.5),
    City("Nigeria", "NG", "Lagos State", "Lagos", 6.5244, 3.3792, "Africa/Lagos", "en", "en_NG", "NGN", 2),
    City("Kenya", "KE", "Nairobi County", "Nairobi", -1.2921, 36.8219, "Africa/Nairobi", "en", "en_KE", "KES", 1),
    City("South Africa", "ZA", "Gauteng", "Johannesburg", -26.2041, 28.0473, "Africa/Johannesburg", "en", "en_GB", "ZAR", 1),
    City("India", "IN", "Maharashtra", "Mumbai", 19.0760, 72.8777, "Asia/Kolkata", "en", "en_IN", "INR", 5),
    City("India", "IN", "Delhi", "New Delhi", 28.6139, 77.2090, "Asia/Kolkata", "hi", "en_IN", "INR", 4),
    City("India", "IN", "Karnataka", "Bengaluru", 12.9716, 77.5946, "Asia/Kolkata", "en", "en_IN", "INR", 3),
    City("Indonesia", "ID", "Jakarta", "Jakarta", -6.2088, 106.8456, "Asia/Jakarta", "id", "id_ID", "IDR", 3),
    City("Singapore", "SG", "Central Region", "Singapore", 1.3521, 103.8198, "Asia/Singapore", "en", "en_US", "SGD", 1),
    City("Japan", "JP", "Tokyo", "Tokyo", 35.6762, 139.6503, "Asia/Tokyo", "ja", "ja_JP", "JPY", 3),
    City("Japan", "JP", "Osaka", "Osaka", 34.6937, 135.5023, "Asia/Tokyo", "ja", "ja_JP", "JPY", 1.5),
    City("South Korea", "KR", "Seoul", "Seoul", 37.5665, 126.9780, "Asia/Seoul", "ko", "ko_KR", "KRW", 2),
    City("China", "CN", "Shanghai", "Shanghai", 31.2304, 121.4737, "Asia/Shanghai", "zh", "zh_CN", "CNY", 2),
    City("Taiwan", "TW", "Taipei", "Taipei", 25.0330, 121.5654, "Asia/Taipei", "zh", "zh_TW", "TWD", 1),
    City("Vietnam", "VN", "Ho Chi Minh City", "Ho Chi Minh City", 10.8231, 106.6297, "Asia/Ho_Chi_Minh", "vi", "vi_VN", "VND", 1.5),
    City("Thailand", "TH", "Bangkok", "Bangkok", 13.7563, 100.5018, "Asia/Bangkok", "th", "th_TH", "THB", 1.5),
    City("Philippines", "PH", "Metro Manila", "Manila", 14.5995, 120.9842, "Asia/Manila", "en", "en_PH", "PHP", 2),
    City("Australia", "AU", "New South Wales", "Sydney", -33.8688, 151.2093, "Australia/Sydney", "en", "en_AU", "AUD", 2),
    City("Australia", "AU", "Victoria", "Melbourne", -37.8136, 144.9631, "Australia/Melbourne", "en", "en_AU", "AUD", 1.5),
    City("New Zealand", "NZ", "Auckland", "Auckland", -36.8485, 174.7633, "Pacific/Auckland", "en", "en_NZ", "NZD", 1),
)  # fmt: skip
