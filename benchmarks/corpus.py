"""A deterministic synthetic news corpus: articles of realistic length (4-10 paragraphs of 2-4
sentences), reporter's sentences and quotes, dates over three years, five sources.

Sentences come from a fixed bank (templates filled with places, organisations, goods and
figures), so the query benchmark can embed each distinct sentence once and build chunk vectors
from them at 100k chunks in minutes; the ingestion benchmark runs the real model on every chunk.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from rag.types import Article

PLACES = ["Minsk", "Astrakhan", "Kazan", "Omsk", "Almaty", "Tashkent", "Baku", "Yerevan", "Tbilisi", "Bishkek",
          "Vladivostok", "Novosibirsk", "Samara", "Volgograd", "Murmansk", "Grodno", "Vitebsk", "Brest", "Gomel",
          "Karaganda", "Samarkand", "Osh", "Khujand", "Ulaanbaatar", "Irkutsk", "Tyumen", "Perm", "Ufa"]
ORGS = ["the regional government", "the Ministry of Industry", "a state holding", "the city administration",
        "the chamber of commerce", "a private investor", "the port authority", "the railway company",
        "the dairy cooperative", "the tractor works", "the development bank", "a Turkish contractor"]
GOODS = ["tractors", "combine harvesters", "electric buses", "trolleybuses", "milk powder", "cheese",
         "potash fertiliser", "grain elevators", "elevators", "road-building machinery", "baby food",
         "steel pipes", "timber", "cotton yarn", "solar panels", "rail wagons", "cement", "poultry"]
VERBS = ["signed a contract to buy", "agreed to supply", "opened a plant producing", "plans to export",
         "increased deliveries of", "discussed joint production of", "announced a tender for", "halted imports of"]
PEOPLE = ["the governor", "the minister", "the deputy mayor", "the plant's director", "a trade official",
          "the head of the association", "the ambassador", "the company's chief executive"]
TEMPLATES = [
    "{Org} in {place} {verb} {n} units of {goods}.",
    "The deal, worth {n} million dollars, covers {goods} for {place}.",
    "Deliveries of {goods} to {place} are to be completed by {month} {year}.",
    "“We expect demand for {goods} to grow by {pct} percent next year,” {person} said.",
    "According to {person}, {place} already receives about {n} tonnes of {goods} a year.",
    "{Org} said the first batch of {goods} would reach {place} in {month}.",
    "The new line in {place} will employ {n} people and produce {goods}.",
    "Talks between {place} and {place2} also touched on {goods} and transport costs.",
    "“Our {goods} are competitive on price and quality,” {person} told reporters in {place}.",
    "Last year {place} imported {goods} worth {n} million dollars, {pct} percent more than a year earlier.",
    "{Person} invited partners from {place2} to visit the plant in {place}.",
    "A working group on {goods} will meet again in {place2} in {month}.",
]
# News vocabulary has a long tail: a few names recur everywhere, most appear rarely. Places and
# companies are drawn from a few hundred made-up names with Zipf-like weights.
_SYLLABLES = ["ka", "ro", "mi", "sta", "vel", "dor", "an", "grad", "sk", "bur", "tash", "ul", "ne", "zo", "rin",
              "lav", "ost", "mar", "pol", "ber", "sen", "tor", "vik", "lan"]
_GEN = random.Random(5)
PLACES += sorted({(_GEN.choice(_SYLLABLES) + _GEN.choice(_SYLLABLES) + _GEN.choice(_SYLLABLES)).capitalize()
                  for _ in range(600)})
COMPANIES = sorted({(_GEN.choice(_SYLLABLES) + _GEN.choice(_SYLLABLES)).capitalize() + " " +
                    _GEN.choice(["Agro", "Mash", "Trans", "Invest", "Prom", "Stroy", "Energo", "Milk"])
                    for _ in range(300)})
ORGS += COMPANIES
GOODS += ["wind turbines", "fishing vessels", "seed potatoes", "medical masks", "insulin", "textbooks",
          "fire engines", "ambulances", "school buses", "forklifts", "cranes", "asphalt", "sugar beet",
          "sunflower oil", "wool", "leather", "glassware", "furniture", "bicycles", "batteries", "transformers",
          "pumps", "valves", "tyres", "lorries", "excavators", "bulldozers", "drones", "fibre optic cable"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
SOURCES = ["belta", "tass", "wire", "local", "trend"]


def sentence_bank(size: int = 3000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    bank: list[str] = []
    seen: set[str] = set()

    def zipf(items: list[str]) -> str:  # weight 1/(rank + 10): the commonest name in ~2% of sentences
        return rng.choices(items, cum_weights=_cumulative(len(items)))[0]

    while len(bank) < size:
        place, place2 = zipf(PLACES), zipf(PLACES)
        org, person = zipf(ORGS), rng.choice(PEOPLE)
        text = rng.choice(TEMPLATES).format(
            org=org, Org=org[0].upper() + org[1:], place=place, place2=place2, verb=rng.choice(VERBS),
            goods=zipf(GOODS), n=rng.choice([12, 40, 60, 120, 300, 450, 1200, 9800, 27, 41]),
            pct=rng.choice([5, 8, 12, 18, 25, 38]), month=rng.choice(MONTHS), year=rng.choice([2025, 2026, 2027]),
            person=person, Person=person[0].upper() + person[1:])
        if text not in seen:
            seen.add(text)
            bank.append(text)
    return bank


def _cumulative(n: int) -> list[float]:
    total, out = 0.0, []
    for rank in range(n):
        total += 1 / (rank + 10)
        out.append(total)
    return out


def articles(bank: list[str], seed: int = 11) -> Iterator[Article]:
    """An endless, deterministic stream of articles built from the bank."""
    rng = random.Random(seed)
    start = date(2023, 1, 1)
    for i in range(10**9):
        paragraphs = [" ".join(rng.sample(bank, rng.randint(2, 4))) for _ in range(rng.randint(4, 10))]
        title = paragraphs[0].split(". ")[0].rstrip(".")[:120]
        published = (start + timedelta(days=rng.randint(0, 1094))).isoformat()
        yield Article(id=f"syn-{i:06d}", title=title, text="\n\n".join(paragraphs), source=rng.choice(SOURCES),
                      published_at=published)


def questions(bank: list[str], count: int = 100, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    shapes = ["What did {org} in {place} agree about {goods}?", "How many {goods} will {place} buy?",
              "Who said demand for {goods} would grow?", "When will deliveries of {goods} to {place} be completed?",
              "What was discussed between {place} and {place2}?"]
    out = []
    for _ in range(count):
        place, place2 = rng.sample(PLACES[:60], 2)  # questions about places the corpus mentions often
        out.append(rng.choice(shapes).format(org=rng.choice(ORGS), place=place, place2=place2,
                                             goods=rng.choice(GOODS)))
    return out
