"""Word lists for the synthetic district. Some entries carry an apostrophe, an accent or a comma on
purpose, so that CSV quoting and UTF-8 are exercised by every sample export."""

from __future__ import annotations

import unicodedata
from functools import cache

FEMALE = (
    "Olivia", "Emma", "Charlotte", "Amelia", "Sophia", "Mia", "Isabella", "Ava", "Evelyn", "Luna",
    "Harper", "Camila", "Sofía", "Scarlett", "Elizabeth", "Eleanor", "Emily", "Chloe", "Mila", "Violet",
    "Penelope", "Gianna", "Aria", "Abigail", "Ella", "Avery", "Hazel", "Nora", "Layla", "Lily",
    "Aurora", "Nova", "Ellie", "Madison", "Grace", "Isla", "Willow", "Zoe", "Riley", "Stella",
    "Zoë", "Ximena", "María", "Lucía", "Valentina", "Guadalupe", "Ana", "Rosa", "Fatima", "Aaliyah",
    "Nevaeh", "Imani", "Keisha", "Mei", "Linh", "Hana", "Amara", "Renée", "Noémie", "Siobhan",
    "Dana", "Jennifer", "Michelle", "Patricia", "Linda", "Karen", "Laura", "Angela", "Teresa", "Monique",
)

MALE = (
    "Liam", "Noah", "Oliver", "James", "Elijah", "Mateo", "Theodore", "Henry", "Lucas", "William",
    "Benjamin", "Levi", "Sebastian", "Jack", "Ezra", "Michael", "Daniel", "Leo", "Owen", "Samuel",
    "Hudson", "Alexander", "Asher", "Luca", "Ethan", "John", "David", "Jackson", "Joseph", "Mason",
    "José", "Andrés", "Matías", "Santiago", "Diego", "Juan", "Carlos", "Luis", "Jesús", "Ángel",
    "Mohammed", "Omar", "Ahmed", "Minh", "Bao", "Wei", "Hiroshi", "Kwame", "Tyrone", "DeShawn",
    "D'Andre", "Rashad", "Jamal", "André", "François", "Séamus", "Robert", "Thomas", "Anthony", "Kevin",
    "Brian", "Steven", "Mark", "Paul", "Gregory", "Raymond", "Patrick", "Dennis", "Terrence", "Marcus",
)

LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams",
    "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans",
    "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson",
    "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood", "Watson",
    "Brooks", "Bennett", "Gray", "James", "Hughes", "Price", "Sanders", "Myers", "Long", "Ross",
    "O'Brien", "O'Connor", "O'Neil", "D'Angelo", "D'Souza", "McCarthy", "MacDonald", "Van der Berg",
    "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez",
    "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Reyes", "Cruz", "Morales", "Ortiz", "Gutiérrez",
    "Chávez", "Ramos", "Ruiz", "Álvarez", "Mendoza", "Castillo", "Jiménez", "Vásquez", "Romero", "Peña",
    "Nguyen", "Tran", "Le", "Pham", "Kim", "Park", "Chen", "Wang", "Li", "Zhang", "Patel", "Shah",
    "Singh", "Khan", "Ali", "Hassan", "Mohamed", "Abdi", "Okafor", "Mensah", "Müller", "Schröder",
    "Kowalski", "Nowak", "Ivanov", "Rossi", "Bianchi", "Dubois", "Lefèvre", "Søren", "Björk", "Nakamura",
)

HISPANIC_LAST = frozenset({
    "García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez",
    "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Reyes", "Cruz", "Morales", "Ortiz", "Gutiérrez",
    "Chávez", "Ramos", "Ruiz", "Álvarez", "Mendoza", "Castillo", "Jiménez", "Vásquez", "Romero", "Peña",
})

NICKNAMES = {
    "Alexander": "Alex", "Benjamin": "Ben", "Elizabeth": "Liz", "Theodore": "Teddy", "Samuel": "Sam",
    "Isabella": "Bella", "Abigail": "Abby", "Valentina": "Vale", "Santiago": "Santi", "Michael": "Mike",
    "Guadalupe": "Lupe", "Joseph": "Joey", "William": "Will", "Daniel": "Danny", "María": "Malu",
    "Penelope": "Penny", "Jackson": "Jax", "Matías": "Mati", "Madison": "Maddie", "Robert": "Bobby",
}

# (language, cumulative weight out of 1000)
LANGUAGES = (
    ("English", 760), ("Spanish", 900), ("Vietnamese", 925), ("Arabic", 945), ("Mandarin", 960),
    ("Somali", 972), ("Haitian Creole", 982), ("Portuguese", 991), ("Tagalog", 1000),
)

SCHOOL_NAMES = (
    "Lincoln", "Washington", "Jefferson", "Roosevelt", "Franklin", "Madison", "Jackson", "Adams",
    "Kennedy", "Hamilton", "Martin Luther King, Jr.", "César Chávez", "O'Keeffe", "Sojourner Truth",
    "Harriet Tubman", "Maya Angelou", "Sally Ride", "Rosa Parks", "Frederick Douglass", "Amelia Earhart",
    "Thurgood Marshall", "Ruth Bader Ginsburg", "Sequoyah", "Sacagawea", "Emerson", "Thoreau", "Whitman",
    "Dickinson", "Hawthorne", "Longfellow", "Carver", "Edison", "Einstein", "Curie", "Audubon", "Muir",
    "Lakeview", "Riverside", "Hillcrest", "Oak Grove", "Maple Ridge", "Cedar Park", "Pine Hollow",
    "Willow Creek", "Sunnyside", "Meadowbrook", "Fairview", "Highland", "Brookside", "Greenwood",
    "Westwood", "Eastside", "Northgate", "Southridge", "Valley View", "Mountain View", "Bayside",
    "Clearwater", "Stonebridge", "Foxhollow", "Eagle Point", "Heritage", "Liberty", "Pioneer", "Summit",
)

INCIDENT_TYPES = (
    "Disruption", "Defiance", "Disrespect", "Fighting", "Bullying", "Harassment", "Vandalism", "Theft",
    "Technology Misuse", "Truancy", "Inappropriate Language", "Physical Aggression", "Substance Possession",
)

STREET_DOMAINS = ("mail.example.com", "inbox.example.net", "webmail.example.org")


@cache
def fold_ascii(text: str) -> str:
    """Lowercase ASCII letters only, for email addresses: "O'Brien" -> "obrien", "García" -> "garcia"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain.lower() if ch.isalnum())
