#!/usr/bin/env python3
"""Generate sample_data/corpus.txt and sample_data/vocab.txt: invented text and its vocabulary.

Grammar templates write about an invented valley (river towns, their trades and people, markets,
letters, weather, animals); no outside text is used. The world is fixed, only the choice and order
of sentences is random, and it follows rules a tiny masked language model can learn: every town
lies on one river at a fixed mile (so "upstream", "downstream" and distances agree) and has one
trade with its work, workplace, tools and a product at a fixed price (count x price = total);
populations and founding years are fixed (so "larger", "older" and "N years" agree; down every
river the towns are younger); verbs and nouns agree in number (one otter whistles, three otters
whistle; geese, mice, wolves, deer) and pronouns with the person; every month has its season,
every season its weather, temperatures, wind, work and feast. The text also exercises the
tokenizer: capitalised names, thousands separators, negative numbers, ASCII punctuation, accents
(café, naïve, Zoë, façade, fiancée) and the towns' invented Chinese names with 「」 and 。.

corpus.txt has one sentence per line, a blank line between documents of 3 to 30 sentences.
vocab.txt is WordPiece in the original BERT layout: [PAD], [unused0]..[unused9], [UNK], [CLS],
[SEP], [MASK], every character of the basic-tokenized corpus, each again as a ## piece, every
whole word seen at least twice (most frequent first), then up to 200 frequent ## word endings; the
corpus needs no [UNK]. Each file is written to <name>.tmp, then renamed; both are byte-identical
on every run (one random.Random(seed) draws everything; nothing depends on hash order or time):

  python3 sample_data/make_sample_data.py [--out_dir DIR] [--seed N] [--target_bytes N]
"""

import argparse
import collections
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bert_mlm import tokenization  # pylint: disable=wrong-import-position

SEED = 20240611
TARGET_BYTES = 400_000
SPECIAL_TOKENS = (["[PAD]"] + ["[unused%d]" % i for i in range(10)] +
                  ["[UNK]", "[CLS]", "[SEP]", "[MASK]"])
MIN_WORD_COUNT = 2  # a whole word enters the vocabulary if it occurs at least this often
NUM_ENDINGS, MIN_ENDING_COUNT = 200, 20  # at most 200 ## endings, each seen at least 20 times


def _table(row_type, text):
  """Rows of a '|'-separated table. Cells with ', ' become tuples; numbers become ints."""
  def value(cell):
    return int(cell) if re.fullmatch(r"-?\d+", cell) else cell
  return [row_type(*(tuple(map(value, c.split(", "))) if ", " in c else value(c)
                     for c in map(str.strip, line.split("|"))))
          for line in text.strip().splitlines()]


River = collections.namedtuple("River", "name source mouth fish")
RIVERS = {r.name: r for r in _table(River, """
Sorrel | the Grey Hills  | the Bay of Lanter | trout
Amble  | Mount Caddow    | Lake Orrin        | perch
Quenna | the Fell of Ash | the Western Sea   | salmon
""")}

# What the people of a trade do (plural verb), where, with which tools; what they sell, its price.
Trade = collections.namedtuple("Trade", "name work place tools product price")
TRADES = {t.name: t for t in _table(Trade, """
smith     | forge iron   | forge     | hammer, anvil, tongs    | horseshoe       | 3
weaver    | weave cloth  | workshop  | loom, shuttle, spindle  | bolt of cloth   | 9
potter    | shape clay   | pottery   | wheel, kiln, scraper    | jug             | 4
fisher    | catch fish   | boat      | net, hook, creel        | basket of fish  | 5
tanner    | cure hides   | tannery   | knife, vat, beam        | hide of leather | 10
baker     | bake bread   | bakery    | oven, peel, trough      | loaf of bread   | 2
brewer    | brew ale     | brewhouse | copper, mashtub, funnel | cask of ale     | 8
beekeeper | keep bees    | apiary    | hive, smoker, veil      | jar of honey    | 5
shepherd  | tend sheep   | fold      | crook, bell, whistle    | fleece          | 8
dyer      | dye wool     | dyehouse  | vat, paddle, kettle     | skein of wool   | 3
mason     | cut stone    | quarry    | chisel, mallet, square  | block of stone  | 6
cooper    | make barrels | cooperage | adze, hoop, mallet      | barrel          | 7
""")}

# Each river's towns from the source down; no two share a founding year or a population.
Town = collections.namedtuple("Town", "name river mile trade founded people market cjk")
TOWNS = _table(Town, """
Ostrell     | Sorrel | 4  | smith     | 1012 | 820  | Monday    | 东石
Thornwick   | Sorrel | 17 | weaver    | 1034 | 1240 | Tuesday   | 荆村
Dunmere     | Sorrel | 31 | potter    | 1065 | 960  | Wednesday |
Saltrun     | Sorrel | 52 | fisher    | 1101 | 2310 | Saturday  | 盐溪
Brackenford | Amble  | 6  | tanner    | 1048 | 640  | Thursday  |
Pellmark    | Amble  | 19 | baker     | 1077 | 1530 | Friday    |
Cressing    | Amble  | 27 | brewer    | 1088 | 710  | Tuesday   |
Lunhollow   | Amble  | 33 | beekeeper | 1120 | 480  | Sunday    | 月谷
Kestermoor  | Quenna | 3  | shepherd  | 990  | 310  | Monday    |
Wyndle      | Quenna | 15 | dyer      | 1083 | 870  | Thursday  |
Tollbridge  | Quenna | 26 | mason     | 1097 | 1010 | Wednesday | 石桥
Quillhaven  | Quenna | 40 | cooper    | 1142 | 3050 | Saturday  | 羽港
""")

# Each animal's home, food, call (plural verb) and when, and its season and what it does then.
Animal = collections.namedtuple("Animal", "name home food call when season habit")
ANIMALS = _table(Animal, """
heron   | in the reeds       | fish   | croak   | at dawn     | winter | stand in the shallows
otter   | under the bank     | eels   | whistle | at dusk     | summer | play in the weir pools
fox     | in the hedge       | mice   | bark    | at night    | spring | raise cubs
goose   | on the marsh       | grass  | honk    | at dawn     | autumn | fly south in long lines
mouse   | in the granary     | grain  | squeak  | at night    | autumn | hide seeds in the floor
wolf    | in the far hills   | deer   | howl    | at midnight | winter | come down to the valley
swallow | under the eaves    | flies  | twitter | all day     | spring | arrive from the south
bee     | in the hive        | nectar | hum     | at noon     | summer | visit the clover
deer    | in the beech woods | acorns | roar    | at dusk     | autumn | gather on the hillside
lark    | in the open fields | seeds  | sing    | at dawn     | summer | sing above the barley
""")

# Seasons from spring (March to May) on: weather, lowest and highest degrees, wind, work, feast.
Season = collections.namedtuple("Season", "name weather temps wind work feast")
SEASONS = _table(Season, """
spring | soft rain, warm showers, cool winds | 4, 15  | west  | sow barley  | the Blossom Feast
summer | long sunshine, dry heat, thunder    | 16, 31 | south | cut the hay | the Midsummer Fair
autumn | thick fog, strong gales, cold rain  | 5, 14  | east  | pick apples | the Apple Moot
winter | hard frost, deep snow, bitter sleet | -9, 3  | north | mend tools  | the Lantern Night
""")
MONTHS = ("January February March April May June July August September October November "
          "December").split()
SEASON_OF = {m: SEASONS[(i - 2) % 12 // 3] for i, m in enumerate(MONTHS)}
NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()
WOMEN = "Mira Elsa Wenna Bryn Sela Petra Zoë Anaïs Renée Chloé Fenna Una".split()
MEN = "Tobin Idris Orrin Joss Ivo Cato Bram Émile Noël Jérôme Tarn Cael".split()
FAMILIES = "Ashdown Pellow Greaves Marrick Brandle Dunlin Farrow Gillam Rudd Vane Kemp Ames".split()
# Chores: verb (plural), its past tense, object.
CHORES = [c.split("/") for c in (
    "light/lit/the fire, feed/fed/the hens, sweep/swept/the yard, fetch/fetched/water, milk/milked/"
    "the goat, mend/mended/the fence, wash/washed/the linen, chop/chopped/firewood, carry/carried/"
    "sacks, count/counted/the coins, dig/dug/the garden, write/wrote/a letter, cook/cooked/supper"
).split(", ")]
IRREGULAR = {"goose": "geese", "mouse": "mice", "wolf": "wolves", "deer": "deer", "loaf": "loaves"}
PRONOUNS = {"f": ("she", "her", "her", "sister"), "m": ("he", "him", "his", "brother")}
Person = collections.namedtuple("Person", "first family gender town age")


def add_s(phrase):
  """Adds -s to the first word: a noun's plural, or a verb for one subject (catch -> catches)."""
  word, space, rest = phrase.partition(" ")
  if word in IRREGULAR:
    word = IRREGULAR[word]
  elif word.endswith(("s", "x", "ch", "sh")):
    word += "es"
  else:
    word = word[:-1] + "ies" if word[-1] == "y" and word[-2] not in "aeiou" else word + "s"
  return word + space + rest


def count(n, noun):
  """'one jug', 'three jugs', '14 jugs', '1,200 jugs': the noun agrees with the number."""
  number = NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else "{:,}".format(n)
  return number + " " + (noun if n == 1 else add_s(noun))


def units(n, unit):
  """'1 coin', '1,240 coins', '-4 degrees': always in digits."""
  return "{:,} {}".format(n, unit if abs(n) == 1 else add_s(unit))


def a_an(word):
  return ("an " if word[0] in "aeiou" else "a ") + word


class Writer:
  """The valley's fixed cast, and documents about it drawn from one random generator.

  A tiny model tells a true next sentence from a random one by its theme far more than by its
  names, so every kind of document keeps to one theme, with words of its own.
  """

  def __init__(self, rng):
    """A sister and a brother in every town, who both work its trade."""
    self.r = rng
    women, men, families = (rng.sample(names, len(TOWNS)) for names in (WOMEN, MEN, FAMILIES))
    self.cast = {t.name: (Person(women[i], families[i], "f", t, rng.randint(18, 70)),
                          Person(men[i], families[i], "m", t, rng.randint(18, 70)))
                 for i, t in enumerate(TOWNS)}
    self.people = [p for pair in self.cast.values() for p in pair]

  def document(self):
    """3 to 30 distinct sentences on one theme (each kind writes at least 3)."""
    kind = self.r.choice([self.river, self.trade, self.history, self.work, self.home,
                          self.market, self.diary, self.animals, self.letter])
    return list(dict.fromkeys(kind()))[:30]  # drops repeats, keeps the order

  def pick(self, title, body, most=None):
    """The title, then at least 2 of the body's distinct sentences in random order."""
    body = list(dict.fromkeys(body))
    self.r.shuffle(body)
    return [self.r.choice(title)] + body[:self.r.randint(2, most or len(body))]

  def compare(self, a, b):
    """A true sentence comparing the sizes or the ages of two towns."""
    big, small = sorted((a, b), key=lambda t: -t.people)
    old, new = sorted((a, b), key=lambda t: t.founded)
    return self.r.choice([
        f"{big.name} is larger than {small.name}.", f"{small.name} is smaller than {big.name}.",
        f"{big.name} has {big.people - small.people:,} more people than {small.name}.",
        f"{old.name} is older than {new.name}.",
        f"{old.name} was founded {new.founded - old.founded} years before {new.name}."])

  def weather(self, month, t):
    """A sentence on the weather in a town, true to the month's season."""
    r, s = self.r, SEASON_OF[month]
    return r.choice([f"In {month} {t.name} had {r.choice(s.weather)}.",
                     f"In {s.name} the wind blows from the {s.wind} over {t.name}.",
                     f"In {s.name} the farmers of {t.name} {s.work}.",
                     f"It was {units(r.randint(*s.temps), 'degree')} in {t.name} one {month} day."])

  def river(self):
    """A town's place on its river: the miles to its neighbours, the fish, the weather."""
    r, t = self.r, self.r.choice(TOWNS)
    river = RIVERS[t.river]
    body = [f"{t.name} lies on the {t.river}, {t.mile} miles below {river.source}.",
            f"The {t.river} rises in {river.source} and flows into {river.mouth}.",
            f"The fishers of {t.name} take {river.fish} from the {t.river}.",
            self.weather(r.choice(MONTHS), t)]
    for o in (o for o in TOWNS if o.river == t.river and o != t):
      miles, way = abs(o.mile - t.mile), "downstream" if o.mile > t.mile else "upstream"
      body += r.sample([f"{o.name} is {miles} miles {way} of {t.name}.",
                        f"{o.name} lies {way} of {t.name}.",
                        f"From {t.name} to {o.name} is {miles} miles along the {t.river}.",
                        f"A boat goes {miles} miles {way} from {t.name} to {o.name}."], 2)
    return self.pick([f"{t.name} on the river {t.river}.", f"Where is {t.name}?"], body)

  def trade(self):
    """A town's trade: work, tools, product, prices (count x price = total), market day."""
    r, t = self.r, self.r.choice(TOWNS)
    trade, workers, p = TRADES[t.trade], add_s(t.trade), r.choice(self.cast[t.name])
    body = [f"{t.name} is known for its {workers}.", f"The {workers} of {t.name} {trade.work}.",
            f"The market in {t.name} is held every {t.market}.",
            f"In {t.name} {a_an(trade.product)} costs {units(trade.price, 'coin')}.",
            f"The {workers} of {t.name} work with {a_an(trade.tools[0])}, "
            f"{a_an(trade.tools[1])} and {a_an(trade.tools[2])}.",
            f"Every {t.trade} in {t.name} has {a_an(trade.place)}.",
            f"Among its {workers} is {p.first} {p.family}, who is {p.age} years old."]
    body += [f"In {t.name} {count(n, trade.product)} cost {units(n * trade.price, 'coin')}."
             for n in r.sample(range(2, 13), 3)]
    return self.pick([f"The {workers} of {t.name}.", f"What is {t.name} known for?"], body)

  def history(self):
    """A town's founding, size and age against other towns, feasts and old names."""
    r, t, season = self.r, self.r.choice(TOWNS), self.r.choice(SEASONS)
    body = [f"{t.name} was founded in {t.founded}.", f"About {t.people:,} people live in {t.name}.",
            f"In {t.founded} the first {add_s(t.trade)} settled at {t.name}.",
            f"Each {season.name} {t.name} holds {season.feast}.",
            f"The town hall of {t.name} has a {r.choice(['grey', 'white', 'red'])} façade."]
    body += [self.compare(t, o) for o in r.sample([o for o in TOWNS if o != t], 4)]
    if t.cjk:  # its invented Chinese name, in quotes or in a Chinese sentence ("... by the river.")
      body += [f"On old maps {t.name} is written {t.cjk}.", f"「{t.cjk}」 is painted on its gate.",
               f"{t.cjk}在{t.river}河边。"]
    return self.pick([f"A short history of {t.name}.", f"Let me tell you about {t.name}."], body)

  def work(self):
    """One person at work: trade, workplace, tools and sales; every pronoun agrees."""
    r, p = self.r, self.r.choice(self.people)
    t, trade, (he, him, his, _) = p.town, TRADES[p.town.trade], PRONOUNS[p.gender]
    names, tools = (he, p.first), r.sample(trade.tools, 3)  # a subject: the pronoun or the name
    body = [f"{r.choice(names).capitalize()} {add_s(trade.work)} every day but {t.market}.",
            f"In {his} {trade.place} {he} uses {a_an(tools[0])} and {a_an(tools[1])}.",
            f"{his.capitalize()} {tools[2]} is the best in {t.name}.",
            f"Every {t.market} {r.choice(names)} sells {add_s(trade.product)} for "
            f"{units(trade.price, 'coin')} each.",
            f"Children in {t.name} often watch {him} at work.",
            f"{r.choice(names).capitalize()} buys a new {tools[0]} every spring."]
    if t.cjk:
      body.append(f"On the sign above {his} door, {t.name} is written {t.cjk}.")
    return self.pick([f"{p.first} {p.family} is {a_an(t.trade)} in {t.name}.",
                      f"{p.first} at work in the {trade.place}."], body)

  def home(self):
    """One person at home: age, family, chores; every pronoun agrees."""
    r, p = self.r, self.r.choice(self.people)
    t, (he, _, his, _) = p.town, PRONOUNS[p.gender]
    sib, names = [q for q in self.cast[t.name] if q != p][0], (he, p.first)
    (chore, _, thing), (_, done, thing2) = r.sample(CHORES, 2)
    old, young = sorted((p, sib), key=lambda q: -q.age)
    body = [f"{r.choice(names).capitalize()} is {p.age} years old.",
            f"{p.first} lives with {his} {PRONOUNS[sib.gender][3]}, {sib.first}.",
            f"Every morning {r.choice(names)} {add_s(chore)} {thing}.",
            f"Yesterday {r.choice(names)} {done} {thing2}.",
            f"{r.choice(names).capitalize()} lives by the {t.river}, {t.mile} miles below "
            f"{RIVERS[t.river].source}.", self.weather(r.choice(MONTHS), t)]
    if old.age > young.age:
      body.append(f"{old.first} is {old.age - young.age} years older than {young.first}.")
    return self.pick([f"This is the story of {p.first} {p.family} of {t.name}.",
                      f"A day at home with {p.first}."], body)

  def market(self):
    """Sellers from the towns of one river: every count x price = total, and the day's sum."""
    r, t, month, total = self.r, self.r.choice(TOWNS), self.r.choice(MONTHS), 0
    s = [f"It was market day in {t.name}, a {t.market} in {month}.", self.weather(month, t)]
    for p in r.sample([q for q in self.people if q.town.river == t.river], r.randint(2, 6)):
      trade, n = TRADES[p.town.trade], r.randint(1, 20)
      goods, paid = count(n, trade.product), units(n * trade.price, "coin")
      total += n * trade.price
      s.append(r.choice([f"{p.first} the {trade.name} sold {goods} at {units(trade.price, 'coin')} "
                         f"each, {paid} in all.", f"For {goods}, {p.first} of {p.town.name} "
                         f"took {paid}.", f"{p.first} sold {goods} in {t.name} for {paid}."]))
      if r.random() < 0.3:
        s.append(r.choice([f"\"Who needs {a_an(trade.product)}?\" called {p.first}.",
                           f"{p.first} left early; the road to {p.town.name} is long.",
                           f"{p.first} packed up at noon ({PRONOUNS[p.gender][0]} had sold out)."]))
    return s + [r.choice([f"Together the sellers in {t.name} took {units(total, 'coin')}.",
                          f"The market master of {t.name} counted {units(total, 'coin')}."])]

  def diary(self):
    """A month of weather in one town, true to its season (below zero in winter)."""
    r, p, month = self.r, self.r.choice(self.people), self.r.choice(MONTHS)
    s, day = SEASON_OF[month], r.randint(1, 20)
    return ([f"The diary of {p.first} {p.family}, {p.town.name}, in {month}."] +
            [f"{month} {day + k}: {r.choice(s.weather)}, {units(r.randint(*s.temps), 'degree')}, "
             f"wind from the {s.wind}." for k in range(r.randint(2, 9))] +
            [r.choice([f"{month} is a month of {s.name}.", f"Soon it is {s.feast}.",
                       f"In {s.name} we {s.work}."])])

  def animals(self):
    """Notes on the animals near one town; every verb agrees with how many there are."""
    r, t, body = self.r, self.r.choice(TOWNS), []
    for a in r.sample(ANIMALS, 5):
      n = r.randint(1, 12)
      calls = a.call if n > 1 else add_s(a.call)  # one otter whistles, two otters whistle
      body += r.sample([f"Near {t.name}, {count(n, a.name)} {calls} {a.when}.",
                        f"The {add_s(a.name)} of {t.name} live {a.home}.",
                        f"{a_an(a.name).capitalize()} eats {a.food}.",
                        f"In {a.season} the {add_s(a.name)} near {t.name} {a.habit}.",
                        f"In {a.season} the {a.name} {add_s(a.habit)}.",
                        f"We saw {count(n, a.name)} {a.home} near {t.name}."], 2)
    return self.pick([f"Animals near {t.name}.", f"What lives along the {t.river}?"], body)

  def letter(self):
    """A letter between two people: news, questions, punctuation, accents and CJK."""
    r, w, month = self.r, self.r.choice(self.people), self.r.choice(MONTHS)
    d = r.choice([q for q in self.people if q.town != w.town])
    s, trade = SEASON_OF[month], TRADES[w.town.trade]
    body = [f"I hope this letter finds you well in {d.town.name}.",
            f"Here in {w.town.name} we have had {r.choice(s.weather)} all week.",
            f"Business is good: I sold {count(r.randint(2, 30), trade.product)} last "
            f"{w.town.market}!", f"My {r.choice(trade.tools)} broke, so I must buy a new one.",
            f"Do you still {TRADES[d.town.trade].work}?",
            f"Could you send me some {r.choice(['salt', 'tea', 'pins'])} from {d.town.name}?",
            f"My fiancée says hello; she is {a_an(trade.name)} too.",
            f"We met at the café in {w.town.name} last {s.name} - do you remember?",
            f"Forgive my naïve question, but is {d.town.name} on the {w.town.river}?",
            self.compare(w.town, d.town)]
    if d.town.cjk:
      body.append(f"I wrote 「{d.town.cjk}」 on the parcel, as they do in the east.")
    return ([f"{w.town.name}, {r.randint(1, 28)} {month}."] +
            self.pick([f"Dear {d.first},"], body, most=8) +
            [r.choice([f"Yours, {w.first}.", f"Love, {w.first}."])])


def make_corpus(target_bytes, seed):
  """Documents until the text reaches target_bytes; a blank line between documents."""
  writer, docs, size = Writer(random.Random(seed)), [], 0
  while size < target_bytes:
    docs.append("\n".join(writer.document()) + "\n")
    size += len(docs[-1].encode("utf-8")) + 1
  return "\n".join(docs)


def build_vocab(corpus):
  """The vocabulary (see the module docstring) from the corpus's lower-cased basic tokens."""
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  counts = collections.Counter(w for line in corpus.splitlines() for w in basic.tokenize(line))
  chars = sorted({c for w in counts for c in w})
  words = sorted((w for w, c in counts.items() if len(w) > 1 and c >= MIN_WORD_COUNT),
                 key=lambda w: (-counts[w], w))
  endings = collections.Counter()  # 2 to 5 letters (never a ## character), 2 or more in front
  for w, c in counts.items():
    for k in range(2, min(5, len(w) - 2) + 1) if w.isalpha() else ():
      endings["##" + w[-k:]] += c
  return SPECIAL_TOKENS + chars + ["##" + c for c in chars] + words + [
      e for e in sorted(endings, key=lambda e: (-endings[e], e))
      if endings[e] >= MIN_ENDING_COUNT][:NUM_ENDINGS]


def write_atomic(path, text):
  """Writes <path>.tmp, then renames it: a run that stops early leaves no half-written file."""
  with open(path + ".tmp", "w", encoding="utf-8", newline="\n") as f:
    f.write(text)
  os.replace(path + ".tmp", path)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out_dir", default=os.path.dirname(os.path.abspath(__file__)))
  parser.add_argument("--seed", type=int, default=SEED)
  parser.add_argument("--target_bytes", type=int, default=TARGET_BYTES)
  args = parser.parse_args()
  corpus = make_corpus(args.target_bytes, args.seed)
  vocab = build_vocab(corpus)
  os.makedirs(args.out_dir, exist_ok=True)
  write_atomic(os.path.join(args.out_dir, "corpus.txt"), corpus)
  write_atomic(os.path.join(args.out_dir, "vocab.txt"), "\n".join(vocab) + "\n")
  sentences = sum(1 for line in corpus.splitlines() if line)
  print("corpus.txt: %d bytes, %d documents, %d sentences; vocab.txt: %d tokens" % (
      len(corpus.encode()), corpus.count("\n\n") + 1, sentences, len(vocab)))


if __name__ == "__main__":
  main()
