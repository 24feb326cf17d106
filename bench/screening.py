"""How fast is the screening? Screens a few thousand realistic posts on one core and prints figures.

    .venv/bin/python bench/screening.py [--posts 5000] [--seed 7]

The posts are made from the kinds a press office writes every day (traffic updates, appeals,
event updates, court results, crime prevention, missing people), filled at random with roads,
places, times, names, numbers and links; about one in six carries personal data, a shortened
link or an offensive word, so every rule's slow path is measured too. Prints figures only.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desk.domain.screening import Policy, screen  # noqa: E402

ROADS = ["A40", "M25", "A406", "M4", "A13", "B1234", "A55", "M6", "A38(M)", "A12"]
PLACES = ["Acton", "Ealing Broadway", "Hanger Lane", "Stratford", "Croydon town centre",
          "Wembley Park", "Hammersmith", "the Blackwall Tunnel", "Kingsbury", "Bow Roundabout"]
TIMES = ["07:15", "14:30", "9am", "6.45pm", "midnight", "17:00", "11:20", "around 4pm"]
DATES = ["Tuesday 12 March", "12/03/2024", "Saturday", "yesterday evening", "1 June 2024"]
NAMES = ["John Smith", "Aisha Khan", "Daniel O'Connor", "Priya Patel", "Tomasz Nowak",
         "Grace Mensah", "Liam McCarthy", "Sophie Turner"]
REFS = ["CAD 1234/21Nov", "ref 01/123456/24", "CAD 5678/03Mar", "crime ref 4321001234/24",
        "log 0987 of 14/06"]
LINKS = ["https://www.met.police.uk/appeal", "https://www.gov.uk/report-crime",
         "https://crimestoppers-uk.org/give-information", "https://www.tfl.gov.uk/status"]

TEMPLATES = [
    "ROAD CLOSED: The {road} is closed in both directions at {place} after a collision at "
    "{time}. Please avoid the area and allow extra time. Updates to follow.",
    "Traffic update: {road} eastbound, lane 2 of 3 closed near {place} while officers deal with "
    "a broken-down lorry. Expect delays until {time}.",
    "We're appealing for witnesses after a collision on the {road} near {place} on {date} at "
    "{time}. Anyone with dashcam footage is asked to call 101 quoting {ref}.",
    "Officers are appealing for information after a burglary in {place} on {date}. If you saw "
    "anything suspicious, call 101 quoting {ref} or contact @Crimestoppers anonymously on "
    "0800 555 111. {link}",
    "Event update: roads around {place} will close from {time} for the parade. Please plan your "
    "journey and follow stewards' directions. Full list of closures: {link}",
    "Update: the match at Wembley ended 3-1. Crowds are leaving now; please be patient on "
    "{road} and around {place}. Thanks for your co-operation today!",
    "{name}, 34, of {place}, has been charged with robbery and will appear at Westminster "
    "Magistrates' Court on {date}. Thank you to everyone who came forward.",
    "Bike marking event at {place} library this Saturday from {time}, free of charge. Tickets "
    "cost nothing; a lock usually costs less than £25 and saves you a lot more. {link}",
    "MISSING: Have you seen Sophie, 15? She was last seen in {place} on {date} wearing a black "
    "coat. If you see her, call 999 immediately quoting {ref}.",
    "Phone snatches are on the rise around {place}. Keep your phone out of sight near the kerb "
    "and report thefts online: {link}",
    "Our officers are at {place} today from {time} to {time2} answering questions about "
    "local policing. Come and say hello 👋",
    "Sentenced: a man who assaulted an emergency worker in {place} on {date} was jailed for 18 "
    "months at Isleworth Crown Court today.",
]
RISKY = [
    "Call {name} directly on 07911 123456 for more details.",
    "Email {email} if you have information.",
    "The victim, {name}, 12/03/1985, lives near SW1A 1AA.",
    "The suspect vehicle is a grey Ford Focus, registration AB12 CDE.",
    "Full details at bit.ly/3xYzAbc",
    "More here: https://www.example-news.com/story/123",
    "What a sh1t show on the {road} today.",
    "Donations to card 4111 1111 1111 1111 please.",
    "Operation Nightjar teams are on scene at {place}.",
]


def make_posts(count: int, rng: random.Random) -> list[str]:
    posts = []
    for _ in range(count):
        fill = dict(road=rng.choice(ROADS), place=rng.choice(PLACES), time=rng.choice(TIMES),
                    time2=rng.choice(TIMES), date=rng.choice(DATES), name=rng.choice(NAMES),
                    ref=rng.choice(REFS), link=rng.choice(LINKS),
                    email=rng.choice(["j.smith77@gmail.com", "appeals@met.police.uk"]))
        text = rng.choice(TEMPLATES).format(**fill)
        if rng.random() < 0.17:
            text += " " + rng.choice(RISKY).format(**fill)
        posts.append(text)
    return posts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    policy = Policy(opsec_terms=("Operation Nightjar", "Bravo Two Zero"),
                    opsec_patterns=(r"\bOp(?:eration)?\s+Kestrel\b",),
                    allowed_phone_numbers=("101", "999", "0800 555 111", "020 7230 1212"))
    posts = make_posts(args.posts, random.Random(args.seed))
    # Warm up: the word lists, the compiled patterns and the phone metadata load once per process.
    for text in make_posts(200, random.Random(args.seed + 1)):
        screen(text, policy=policy)

    times, found, flagged = [], Counter(), 0
    started = time.perf_counter()
    for text in posts:
        t0 = time.perf_counter_ns()
        findings = screen(text, policy=policy)
        times.append(time.perf_counter_ns() - t0)
        found.update(f.rule for f in findings)
        flagged += bool(findings)
    elapsed = time.perf_counter() - started

    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"posts screened      {len(posts)}")
    print(f"mean post length    {statistics.mean(map(len, posts)):.0f} characters")
    print(f"posts per second    {len(posts) / elapsed:,.0f}  (one core)")
    print(f"mean per post       {statistics.mean(times) / 1000:.1f} µs")
    print(f"median per post     {times[len(times) // 2] / 1000:.1f} µs")
    print(f"p99 per post        {p99 / 1000:.1f} µs")
    print(f"slowest post        {times[-1] / 1000:.1f} µs")
    print(f"findings            {sum(found.values())} in {flagged} posts")
    for rule, n in found.most_common():
        print(f"  {rule:<22}{n}")


if __name__ == "__main__":
    main()
