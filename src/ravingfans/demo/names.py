"""Small built-in word lists the demo draws names, places, products and notes from (no Faker, no network)."""

from __future__ import annotations

from typing import NamedTuple

FEMALE_FIRST = (
    "Emma", "Olivia", "Ava", "Sophia", "Isabella", "Mia", "Charlotte", "Amelia", "Harper", "Evelyn",
    "Abigail", "Emily", "Ella", "Grace", "Chloe", "Lily", "Hannah", "Zoe", "Nora", "Riley",
    "Maria", "Sarah", "Jessica", "Jennifer", "Laura", "Rachel", "Megan", "Natalie", "Claire", "Julia",
    "Anna", "Lucy", "Sofia", "Camila", "Priya", "Mei", "Aisha", "Fatima", "Keiko", "Linh",
    "Rosa", "Elena", "Ingrid", "Margaret", "Susan", "Linda", "Karen", "Nancy", "Diane", "Joan",
)
MALE_FIRST = (
    "Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry", "Theodore",
    "Jack", "Levi", "Alexander", "Jackson", "Mateo", "Daniel", "Michael", "Mason", "Sebastian", "Ethan",
    "David", "Joseph", "Samuel", "John", "Owen", "Wyatt", "Caleb", "Nathan", "Ryan", "Isaac",
    "Carlos", "Diego", "Raj", "Wei", "Hiroshi", "Omar", "Tuan", "Andre", "Marcus", "Trevor",
    "Robert", "Thomas", "Richard", "Charles", "Paul", "Mark", "Steven", "Kevin", "Brian", "Gary",
)
LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Chen", "Patel", "Kim", "Tanaka", "Olsen", "Larson", "Murphy", "O'Brien", "Sullivan", "Fischer",
    "Weber", "Novak", "Kowalski", "Haddad", "Okafor", "Morales", "Reyes", "Bennett", "Hayes", "Foster",
)

EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

# (city, region, postal codes, weight)
CITIES = (
    ("Portland", "OR", ("97201", "97202", "97205", "97209", "97211", "97212", "97214", "97217", "97219", "97232"), 60),
    ("Beaverton", "OR", ("97005", "97006", "97007", "97008"), 8),
    ("Lake Oswego", "OR", ("97034", "97035"), 6),
    ("Gresham", "OR", ("97030", "97080"), 5),
    ("Tigard", "OR", ("97223", "97224"), 6),
    ("Hillsboro", "OR", ("97123", "97124"), 5),
    ("Milwaukie", "OR", ("97222", "97267"), 4),
    ("Vancouver", "WA", ("98660", "98661", "98664", "98683"), 6),
)
STREETS = (
    "NE Alberta St", "SE Division St", "NW 23rd Ave", "N Mississippi Ave", "SE Hawthorne Blvd", "SW Broadway",
    "NE Broadway", "SE Belmont St", "N Lombard St", "NE Fremont St", "SW Capitol Hwy", "SE Foster Rd",
    "NE Sandy Blvd", "SE Stark St", "NW Glisan St", "N Williams Ave", "SE Woodstock Blvd", "NE Killingsworth St",
    "SW Macadam Ave", "Main St", "Oak St", "Cedar Ave", "Maple Dr", "Pine St", "Elm St", "Park Ave",
)
AREA_CODES = {"OR": ("503", "971"), "WA": ("360",)}

EMPLOYEES = (
    # (name, role, full-time equivalent share of the shop floor)
    ("Maria Gonzalez", "owner", 0.7),
    ("Daniel Kim", "store manager", 1.0),
    ("Priya Patel", "senior sales associate", 1.0),
    ("Tom Becker", "sales associate", 1.0),
    ("Aisha Okafor", "sales associate", 1.0),
    ("Jake Morrison", "sales associate", 0.6),
    ("Lena Fischer", "part-time sales associate", 0.5),
    ("Carlos Reyes", "sales associate", 1.0),
)

BRANDS = (
    ("Cascade Runner", "CR"), ("Alder Trail", "AT"), ("Northwind", "NW"), ("Pine & Pebble", "PP"),
    ("Rosewood", "RW"), ("Summit Line", "SL"), ("Harbor Knit", "HK"), ("Iron Creek", "IC"),
    ("Willow Lane", "WL"), ("Bluefin", "BF"),
)
MODELS = (
    "Swift", "Ridge", "Harbor", "Meadow", "Aspen", "Drift", "Summit", "Coast", "Ember", "Juniper",
    "Fern", "Orbit", "Slate", "Canyon", "Pioneer", "Breeze", "Cove", "Tundra", "Willamette", "Hood",
)
COLOURS = (
    ("Black", "BLK"), ("White", "WHT"), ("Navy", "NVY"), ("Grey", "GRY"), ("Brown", "BRN"), ("Tan", "TAN"),
    ("Olive", "OLV"), ("Red", "RED"), ("Blue", "BLU"), ("Green", "GRN"), ("Burgundy", "BUR"), ("Cream", "CRM"),
)
SHOE_SIZES = ("6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "11.5", "12", "13")
CLOTHING_SIZES = ("S", "M", "L", "XL")
SOCK_SIZES = ("M", "L")

class Category(NamedTuple):
    """A product category: how it is sized, named, priced, liked and returned, and who makes it."""

    name: str
    size_kind: str  # shoe, clothing, sock or none
    noun: str
    price_range: tuple[int, int]  # dollars
    popularity: int
    return_store: float  # share of lines bought in the store that come back
    return_web: float  # ... and of lines bought on the web
    brands: tuple[str, ...]


CATEGORIES = (
    Category("Running shoes", "shoe", "Runner", (89, 159), 10, 0.05, 0.16,
             ("Cascade Runner", "Summit Line", "Bluefin")),
    Category("Walking shoes", "shoe", "Walker", (79, 139), 7, 0.04, 0.14,
             ("Cascade Runner", "Willow Lane", "Alder Trail")),
    Category("Boots", "shoe", "Boot", (119, 229), 7, 0.05, 0.15,
             ("Iron Creek", "Alder Trail", "Northwind")),
    Category("Sneakers", "shoe", "Sneaker", (59, 119), 9, 0.04, 0.13,
             ("Bluefin", "Pine & Pebble", "Summit Line")),
    Category("Sandals", "shoe", "Sandal", (39, 89), 5, 0.03, 0.10,
             ("Willow Lane", "Pine & Pebble")),
    Category("Dress shoes", "shoe", "Oxford", (99, 199), 3, 0.05, 0.15,
             ("Rosewood", "Iron Creek")),
    Category("T-shirts", "clothing", "Tee", (19, 39), 9, 0.02, 0.08,
             ("Harbor Knit", "Pine & Pebble", "Summit Line")),
    Category("Shirts", "clothing", "Shirt", (39, 79), 5, 0.03, 0.10,
             ("Rosewood", "Harbor Knit")),
    Category("Jeans", "clothing", "Jean", (59, 119), 5, 0.04, 0.14,
             ("Iron Creek", "Pine & Pebble")),
    Category("Jackets", "clothing", "Jacket", (99, 249), 4, 0.04, 0.12,
             ("Northwind", "Alder Trail", "Summit Line")),
    Category("Sweaters", "clothing", "Sweater", (49, 119), 5, 0.03, 0.10,
             ("Harbor Knit", "Willow Lane")),
    Category("Dresses", "clothing", "Dress", (59, 139), 3, 0.04, 0.15,
             ("Willow Lane", "Rosewood")),
    Category("Socks", "sock", "Sock", (9, 19), 8, 0.0, 0.02,
             ("Summit Line", "Harbor Knit", "Cascade Runner")),
    Category("Bags", "none", "Tote", (39, 149), 2, 0.02, 0.06,
             ("Alder Trail", "Rosewood")),
    Category("Belts", "none", "Belt", (29, 59), 2, 0.02, 0.05,
             ("Iron Creek", "Rosewood")),
    Category("Shoe care", "none", "Care Kit", (8, 24), 4, 0.0, 0.01,
             ("Iron Creek", "Cascade Runner")),
)

HOBBIES = (
    "trail running", "hiking", "yoga", "cycling", "marathons", "gardening", "dancing", "tennis",
    "photography", "travel", "camping", "live music", "walking the dog", "climbing",
)
DISLIKES = (
    "synthetic fabrics", "tight fits", "pushy sales talk", "loud colours", "wool", "suede", "phone calls",
    "waiting in line", "narrow toe boxes", "logos", "high heels", "crowded weekends",
)
OCCUPATIONS = (
    "nurse", "teacher", "software engineer", "carpenter", "barista", "lawyer", "student", "retired",
    "designer", "chef", "physiotherapist", "mail carrier", "architect", "accountant", "musician",
)
CUSTOMER_NOTES = (
    "Wide feet - bring the wide-fit options first.",
    "Training for the Portland Marathon.",
    "Has plantar fasciitis; needs firm arch support.",
    "Likes to try everything on; give them time.",
    "Usually shops on Saturday mornings.",
    "Allergic to wool.",
    "Buys gifts for the whole family in December.",
    "Plays in a band; needs black dress shoes for gigs.",
    "Walks to work every day, wears shoes out fast.",
    "Prefers to pay in cash.",
    "Hiking the Pacific Crest Trail next summer.",
    "Happy to be called about new arrivals.",
    "Left knee surgery last year; cushioned soles only.",
    "Works night shifts; best reached by e-mail.",
)
STAFF_NOTES = (
    "Asked us to hold a size {size} when the new season arrives.",
    "Mentioned a wedding coming up; might need dress shoes.",
    "Very happy with the fitting today - sent a friend our way.",
    "Was disappointed we were out of stock in {size}.",
    "Prefers e-mail to phone calls.",
    "Loves the {brand} range; tell them when new colours come in.",
    "Bought for a partner last time; partner wears size {size}.",
)

# Interaction notes per kind, then per rating (+1 magic, 0 mediocre, -1 misery).
INTERACTION_NOTES: dict[str, dict[int, tuple[str, ...]]] = {
    "purchase": {
        1: ("Found the perfect fit after trying three pairs.", "Stayed after closing to finish the fitting.",
            "Remembered their size and had it ready.", "Gift-wrapped it for free; delighted."),
        0: ("Quick purchase, no questions.", "Bought what they came for.", "Paid and left.",
            "Fine, a bit of a wait at the till."),
        -1: ("Waited 20 minutes to be served.", "Wrong size rung up; had to come back.",
             "Felt rushed at the till.", "Card machine failed twice."),
    },
    "question": {
        1: ("Explained waterproofing options in detail.", "Checked the other store's stock on the spot.",
            "Answered by phone within minutes."),
        0: ("Asked about opening hours.", "Asked whether a size is in stock.", "Asked about the returns policy."),
        -1: ("E-mail went unanswered for a week.", "Was put on hold and cut off."),
    },
    "complaint": {
        1: ("Replaced the faulty pair on the spot, no questions.", "Called back the same day and fixed it."),
        0: ("Complaint logged; refund processed.", "Offered store credit."),
        -1: ("Sole came loose after three weeks; felt brushed off.", "Argued about the receipt.",
             "Zip broke; told to contact the brand."),
    },
    "return": {
        1: ("Easy return; helped find a better size.", "Swapped for another colour, smiling."),
        0: ("Returned, refund to card.", "Return processed."),
        -1: ("Return took forever; manager needed.", "Refund refused at first; had to insist."),
    },
    "courtesy_call": {
        1: ("Called to ask how the shoes are holding up; customer delighted.",
            "Courtesy call - they loved that we remembered the trip."),
        0: ("Courtesy call; all fine.", "Left a voicemail."),
        -1: ("Called at a bad time; customer annoyed.",),
    },
    "gift": {
        1: ("Birthday gift: a pair of socks. Over the moon.", "Thank-you card and care kit for a loyal customer.",
            "Invited to the spring preview evening."),
        0: ("Sent a thank-you card.",),
        -1: ("Gift voucher had expired by the time it arrived.",),
    },
    "other": {
        1: ("Held a size for pickup; collected happily.", "Told them the new shipment came in; they came by."),
        0: ("Updated contact details.", "Asked to be told when new stock arrives."),
        -1: ("Hold expired before they could collect.",),
    },
}
