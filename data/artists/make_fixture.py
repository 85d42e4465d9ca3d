"""Regenerate the artists sample (``artists_fixture.json`` + ``photos/``) deterministically.

Run: ``python data/artists/make_fixture.py``. See README.md beside it for what the sample
holds and which entities are bad on purpose.
"""

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).parent
rng = random.Random(42)

PERSONS = [
    ("Smiley", "Andrei", "Tiberiu Maria", "Romanian", "Romania", "+40 721 234 567", True),
    ("Inna", "Elena", "Apostoleanu", "Romanian", "Romania", "+40 723 000 111", True),
    ("Carla's Dreams", "", "", "Moldovan", "Moldova", "", True),
    ("Irina Rimes", "Irina", "Rimes", "Moldovan", "Moldova", "+373 69 123 456", True),
    ("Delia", "Delia", "Matache", "Romanian", "Romania", "0722 555 010", True),
    ("Antonia", "Antonia", "Iacobescu", "Romanian", "Romania", "", True),
    ("Alina Eremia", "Alina", "Eremia", "Romanian", "Romania", "+40 744 987 654", True),
    ("Feli", "Felicia", "Donose", "Romanian", "Romania", "", True),
    ("The Motans", "Denis", "Roabes", "Moldovan", "Moldova", "", True),
    ("Andra", "Alexandra", "Mariaceanu", "Romanian", "Romania", "+40 735 111 222", True),
    ("Killa Fonic", "Marius", "Fonica", "Romanian", "Romania", "", True),
    ("Ruby", "Ruxandra", "Florea", "Romanian", "Romania", "", True),
    ("Mira", "Mira", "Ionescu", "Romanian", "Romania", "(555) 010-2030", False),
    ("Jessie Ware", "Jessica", "Ware", "British", "United Kingdom", "+44 20 7946 0958", False),
    ("Tom Odell", "Thomas", "Odell", "British", "United Kingdom", "", False),
    ("Ana Moura", "Ana", "Moura", "Portuguese", "Portugal", "", False),
    ("Stromae", "Paul", "Van Haver", "Belgian", "Belgium", "", False),
    ("Rosalía", "Rosalía", "Vila Tobella", "Spanish", "Spain", "+34 612 345 678", False),
    ("Vlad Dobrescu", "Vlad", "Dobrescu", "Romanian", "Romania", "", False),
    ("Mahmood", "Alessandro", "Mahmoud", "Italian", "Italy", "", False),
    ("Łukasz Żal", "Łukasz", "Żal", "Polish", "Poland", "", False),
    ("Zoë Müller", "Zoë", "Müller", "German", "Germany", "+49 30 901820", False),
]
COMPANIES = [
    ("HaHaHa Production", "Romania", True, "label"),
    ("Global Records", "Romania", False, "label"),
    ("Cat Music", "Romania", False, "label"),
    ("Roton", "Romania", False, "publisher"),
    ("Warner Music Romania", "Romania", False, "distributor"),
    ("Universal Music Publishing", "United States", False, "publisher"),
    ("Sony Music Entertainment", "United States", False, "label"),
    ("Kobalt", "United Kingdom", False, "publisher"),
    ("Believe", "France", False, "distributor"),
    ("Monstercat", "Canada", False, "label"),
]
PLATFORMS = ["instagram", "spotify", "youtube", "tiktok", "facebook"]


def handle_of(name: str) -> str:
    return "".join(c for c in name.lower().replace(" ", "_") if c.isalnum() or c == "_")


def photo(name: str, fmt: str) -> str:
    img = Image.new("RGB", (64, 64), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    ImageDraw.Draw(img).text((8, 24), name[:6], fill=(255, 255, 255))
    ext = "jpg" if fmt == "JPEG" else "png"
    rel = f"photos/{handle_of(name)}.{ext}"
    img.save(HERE / rel, fmt)
    return rel


def socials(name: str, n: int) -> list:
    out = []
    for i, platform in enumerate(PLATFORMS[:n]):
        h = handle_of(name)
        url = {"instagram": f"https://www.instagram.com/{h}/", "spotify": f"https://open.spotify.com/artist/{rng.getrandbits(64):016x}",
               "youtube": f"https://www.youtube.com/@{h}", "tiktok": f"https://www.tiktok.com/@{h}",
               "facebook": f"https://www.facebook.com/{h}"}[platform]
        out.append({"platform": platform, "handle": "" if platform == "spotify" else h, "url": url, "display_name": name,
                    "follower_count": None if platform == "spotify" else rng.randrange(1_000, 3_000_000),
                    "is_verified": i == 0 and rng.random() < 0.7, "is_primary": i == 0, "notes": ""})
    return out


def main() -> None:
    for old in (HERE / "photos").glob("*"):
        old.unlink()
    entities = []
    for i, (name, first, last, nat, country, phone, internal) in enumerate(PERSONS):
        if i % 3 == 0:
            url = photo(name, "JPEG")
        elif i % 3 == 1:
            url = photo(name, "PNG")
        else:  # an https URL (needs internet; offline it is reported and the entity still lands)
            url = f"https://cdn.haha-production.example/media/entity_photos/{handle_of(name)}.jpg"
        roles = [{"role": "artist", "primary_role": True, "is_internal": internal}]
        if i % 4 == 0:
            roles.append({"role": "songwriter", "primary_role": False, "is_internal": internal})
        if i % 7 == 0:
            roles.append({"role": "producer", "primary_role": False, "is_internal": False})
        entities.append({
            "kind": "PF", "display_name": name, "first_name": first, "last_name": last, "stage_name": name,
            "nationality": nat, "gender": None, "email": f"{handle_of(name)}@example.com" if i % 2 == 0 else "",
            "phone": phone, "address": "", "city": "Bucharest" if country == "Romania" else "", "state": "",
            "zip_code": "", "country": country, "notes": "Internal artist" if internal else "External artist",
            "profile_photo_url": url, "roles": roles, "social_media": socials(name, 1 + i % 5),
        })
    for j, (name, country, internal, role) in enumerate(COMPANIES):
        entities.append({
            "kind": "PJ", "display_name": name, "email": f"contact@{handle_of(name).replace('_', '')}.example.com",
            "country": country, "notes": "", "profile_photo_url": photo(name, "PNG") if j % 2 == 0 else "",
            "roles": [{"role": role, "primary_role": True, "is_internal": internal}], "social_media": socials(name, 1 + j % 2),
        })
    # Deliberately bad entities (README.md lists them): each is reported, the rest still lands.
    (HERE / "photos" / "not_an_image.jpg").write_text("this is text, not a JPEG\n")
    entities += [
        {"display_name": "No Kind Artist", "roles": []},                                   # kind missing
        {"kind": "XX", "display_name": "Wrong Kind Ltd"},                                  # kind not PF/PJ
        {"kind": "PF", "display_name": "   ", "email": "blank@example.com"},               # display_name blank
        {"kind": "PF", "display_name": "Bad Email Person", "email": "not-an-email@"},      # email syntax
        {"kind": "PF", "display_name": "Two Primaries", "roles": [                         # two primary roles
            {"role": "artist", "primary_role": True}, {"role": "producer", "primary_role": True}]},
        {"kind": "PF", "display_name": "Negative Followers", "social_media": [            # follower_count < 0
            {"platform": "instagram", "handle": "neg", "follower_count": -5}]},
        {"kind": "PF", "display_name": "Escaping Photo Path", "profile_photo_url": "../../etc/passwd"},  # photo refused, entity lands
        {"kind": "PF", "display_name": "Text As Photo", "profile_photo_url": "photos/not_an_image.jpg"},  # photo refused, entity lands
        {"kind": "PF", "display_name": "Loopback Photo", "profile_photo_url": "http://127.0.0.1:9/admin.png"},  # photo refused, entity lands
    ]
    (HERE / "artists_fixture.json").write_text(json.dumps(entities, indent=2, ensure_ascii=False) + "\n")
    print(f"{len(entities)} entities written")


if __name__ == "__main__":
    main()
