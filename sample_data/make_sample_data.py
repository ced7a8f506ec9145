#!/usr/bin/env python3
"""Generate the small sample corpus and WordPiece vocabulary in sample_data/.

Everything this script writes is invented here: a made-up valley of river
towns, trades, people, animals, trees, crops, seasons, inns and markets,
described in English sentences produced from grammar templates.  No outside
text is used.

The world has fixed, learnable regularities so that a tiny masked language
model has something real to pick up, for example:

  * each town lies on one river, at a fixed mile from the river's source, so
    "upstream"/"downstream" and the distances between towns always agree;
  * each town is known for one trade, and every trade has its own tools,
    workplace, material and product;
  * every product has one fixed price, so counts, prices and totals agree;
  * every town has a fixed size and founding year, so "larger than",
    "the largest on the river" and "older by N years" are consistent;
  * nouns and verbs agree in number (one otter swims, two otters swim;
    geese, mice, wolves and deer are irregular), pronouns agree with the
    person, and daily-life verbs appear in present, past and -ing forms;
  * each season has its own weather, temperatures, wind, crops, feast and
    animal behaviour.

The text also exercises the tokenizer: capitalised names, digits, thousands
separators and negative numbers, many kinds of ASCII punctuation, a few
accented words (café, naïve, Zoë, façade, ...), and some lines with invented
Chinese spellings of town names, including CJK punctuation such as 「」 and 。.

Outputs (both written atomically: <name>.tmp, then os.replace):

  sample_data/corpus.txt  one sentence per line, a blank line between
                          documents, documents of 3 to 30 sentences,
                          about 400 KB in all.
  sample_data/vocab.txt   a WordPiece vocabulary in the original BERT
                          format, one token per line: [PAD], [unused0]..
                          [unused9], [UNK], [CLS], [SEP], [MASK], then every
                          character seen in the basic-tokenized text, then
                          each of those characters as a ##continuation
                          piece, then the most frequent whole words, then
                          frequent ##suffix pieces (common word endings).

To regenerate (byte-identical on every run; nothing depends on hash order,
the clock or the environment):

  python sample_data/make_sample_data.py

Optional flags: --out_dir DIR (default: the directory of this script),
--target_bytes N (default 400000), --seed N (default below; changing it
gives a different corpus).
"""

import argparse
import collections
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bert_mlm import tokenization  # pylint: disable=wrong-import-position

SEED = 20240611
TARGET_BYTES = 400_000

# Shape of the vocabulary.
MIN_WORD_COUNT = 2      # a whole word must occur at least this often
MAX_WHOLE_WORDS = 3000  # cap on the whole-word section
NUM_SUFFIXES = 200      # at most this many ##suffix pieces
MIN_SUFFIX_COUNT = 20   # frequency-weighted count a suffix needs

SPECIAL_TOKENS = (["[PAD]"] + ["[unused%d]" % i for i in range(10)] +
                  ["[UNK]", "[CLS]", "[SEP]", "[MASK]"])

# ---------------------------------------------------------------------------
# The invented world.  All of these tables are fixed; only the choice and
# order of sentences is random.
# ---------------------------------------------------------------------------

# name, source, mouth, fish that live in it
RIVERS = [
    ("Sorrel", "the Grey Hills", "the Bay of Lanter", "trout"),
    ("Amble", "Mount Caddow", "Lake Orrin", "perch"),
    ("Quenna", "the Fell of Ash", "the Western Sea", "salmon"),
    ("Drathe", "the Black Moss", "Lake Orrin", "eels"),
    ("Tamber", "the Hollin Woods", "the Bay of Lanter", "pike"),
    ("Ysk", "the Cold Tarn", "the Western Sea", "grayling"),
    ("Lisle", "the Chalk Downs", "the Saltings", "roach"),
]
RIVER_BY_NAME = {r[0]: r for r in RIVERS}

# Every trade: what its people do (singular / plural verb phrase), where
# they work, three tools, the material they buy, what they sell (singular /
# plural unit) and the fixed price of one unit in coins.
_TRADES = [
    ("weaver", "weavers", "weaves cloth", "weave cloth", "workshop",
     ("loom", "shuttle", "spindle"), "wool", "bolt of cloth",
     "bolts of cloth", 9),
    ("smith", "smiths", "forges iron", "forge iron", "forge",
     ("hammer", "anvil", "file"), "iron", "horseshoe", "horseshoes", 3),
    ("potter", "potters", "shapes clay", "shape clay", "pottery",
     ("wheel", "kiln", "scraper"), "clay", "jug", "jugs", 4),
    ("baker", "bakers", "bakes bread", "bake bread", "bakery",
     ("oven", "peel", "trough"), "flour", "loaf of bread", "loaves of bread",
     2),
    ("miller", "millers", "grinds grain", "grind grain", "mill",
     ("millstone", "sieve", "scoop"), "grain", "sack of flour",
     "sacks of flour", 6),
    ("fisher", "fishers", "catches fish", "catch fish", "boat",
     ("net", "hook", "creel"), "bait", "basket of fish", "baskets of fish",
     5),
    ("carpenter", "carpenters", "builds furniture", "build furniture",
     "workshop", ("saw", "plane", "chisel"), "oak", "chair", "chairs", 12),
    ("cooper", "coopers", "makes barrels", "make barrels", "cooperage",
     ("adze", "hoop", "mallet"), "staves", "barrel", "barrels", 7),
    ("tanner", "tanners", "cures hides", "cure hides", "tannery",
     ("knife", "vat", "beam"), "bark", "hide of leather", "hides of leather",
     10),
    ("chandler", "chandlers", "dips candles", "dip candles", "chandlery",
     ("pot", "wick", "mould"), "tallow", "candle", "candles", 1),
    ("beekeeper", "beekeepers", "keeps bees", "keep bees", "apiary",
     ("hive", "smoker", "veil"), "sugar", "jar of honey", "jars of honey", 5),
    ("dyer", "dyers", "dyes wool", "dye wool", "dyehouse",
     ("vat", "paddle", "kettle"), "madder", "skein of red wool",
     "skeins of red wool", 3),
    ("shepherd", "shepherds", "tends sheep", "tend sheep", "fold",
     ("crook", "bell", "whistle"), "hay", "fleece", "fleeces", 8),
    ("cheesemaker", "cheesemakers", "makes cheese", "make cheese", "dairy",
     ("churn", "press", "ladle"), "milk", "wheel of cheese",
     "wheels of cheese", 11),
    ("glassblower", "glassblowers", "blows glass", "blow glass",
     "glasshouse", ("blowpipe", "furnace", "marver"), "sand", "bottle",
     "bottles", 2),
    ("brewer", "brewers", "brews ale", "brew ale", "brewhouse",
     ("copper", "mashtub", "funnel"), "malt", "cask of ale", "casks of ale",
     8),
    ("cobbler", "cobblers", "mends shoes", "mend shoes", "shop",
     ("awl", "last", "hammer"), "leather", "pair of boots", "pairs of boots",
     6),
    ("thatcher", "thatchers", "thatches roofs", "thatch roofs", "yard",
     ("ladder", "rake", "knife"), "reed", "bundle of thatch",
     "bundles of thatch", 4),
    ("mason", "masons", "cuts stone", "cut stone", "quarry",
     ("chisel", "mallet", "square"), "granite", "block of stone",
     "blocks of stone", 6),
    ("ropemaker", "ropemakers", "twists rope", "twist rope", "ropewalk",
     ("hook", "wheel", "sledge"), "hemp", "coil of rope", "coils of rope", 4),
    ("tailor", "tailors", "sews coats", "sew coats", "shop",
     ("needle", "thimble", "iron"), "linen", "coat", "coats", 14),
    ("basketmaker", "basketmakers", "weaves baskets", "weave baskets",
     "shed", ("knife", "bodkin", "tank"), "willow", "basket", "baskets", 2),
    ("vintner", "vintners", "presses grapes", "press grapes", "cellar",
     ("press", "vat", "funnel"), "grapes", "bottle of wine",
     "bottles of wine", 6),
    ("saddler", "saddlers", "stitches saddles", "stitch saddles",
     "saddlery", ("awl", "needle", "knife"), "leather", "saddle", "saddles",
     20),
    ("herbalist", "herbalists", "gathers herbs", "gather herbs", "garden",
     ("mortar", "pestle", "knife"), "herbs", "pouch of herbs",
     "pouches of herbs", 3),
    ("boatwright", "boatwrights", "builds boats", "build boats", "boatyard",
     ("adze", "auger", "caulking iron"), "larch", "rowing boat",
     "rowing boats", 40),
    ("clockmaker", "clockmakers", "mends clocks", "mend clocks", "shop",
     ("lens", "file", "screwdriver"), "brass", "clock", "clocks", 30),
    ("papermaker", "papermakers", "makes paper", "make paper", "paper mill",
     ("mould", "deckle", "press"), "rags", "ream of paper", "reams of paper",
     9),
]
TRADE_FIELDS = ("name", "pl", "act", "act_pl", "place", "tools", "material",
                "product", "product_pl", "price")
TRADES = [dict(zip(TRADE_FIELDS, t)) for t in _TRADES]
TRADE_BY_NAME = {t["name"]: t for t in TRADES}

# name, river, mile below the source, trade, landmark, year founded,
# population, market weekday, invented Chinese spelling (or None) and what
# the characters mean.  Populations and years are all distinct, so
# comparisons between towns always have one answer.
_TOWNS = [
    ("Ostrell", "Sorrel", 4, "smith", "the iron bridge", 1012, 820,
     "Monday", "东石", "east stone"),
    ("Thornwick", "Sorrel", 17, "weaver", "the wool hall", 1034, 1240,
     "Tuesday", "荆村", "thorn village"),
    ("Dunmere", "Sorrel", 31, "potter", "the clay pits", 1065, 960,
     "Wednesday", "暗湖", "dark lake"),
    ("Saltrun", "Sorrel", 52, "fisher", "the sea wall", 1101, 2310,
     "Saturday", "盐溪", "salt stream"),
    ("Brackenford", "Amble", 6, "tanner", "the old ford", 1048, 640,
     "Thursday", None, None),
    ("Pellmark", "Amble", 19, "baker", "the market cross", 1077, 1530,
     "Friday", None, None),
    ("Cressing", "Amble", 27, "brewer", "the hop gardens", 1088, 710,
     "Tuesday", None, None),
    ("Lunhollow", "Amble", 33, "beekeeper", "the moon gate", 1120, 480,
     "Sunday", "月谷", "moon valley"),
    ("Kestermoor", "Quenna", 3, "shepherd", "the standing stones", 990, 310,
     "Monday", None, None),
    ("Wyndle", "Quenna", 15, "dyer", "the red weir", 1083, 870,
     "Thursday", None, None),
    ("Tollbridge", "Quenna", 26, "mason", "the toll house", 1097, 1010,
     "Wednesday", "石桥", "stone bridge"),
    ("Quillhaven", "Quenna", 40, "cooper", "the lighthouse", 1142, 3050,
     "Saturday", "羽港", "feather harbour"),
    ("Varrowgate", "Drathe", 11, "carpenter", "the timber yard", 1056, 1120,
     "Tuesday", None, None),
    ("Ebbington", "Drathe", 24, "miller", "the great wheel", 1093, 760,
     "Wednesday", None, None),
    ("Marrowby", "Drathe", 30, "cheesemaker", "the stone dairy", 1110, 540,
     "Friday", "白桥", "white bridge"),
    ("Sedgecombe", "Drathe", 38, "basketmaker", "the willow beds", 1126, 430,
     "Sunday", None, None),
    ("Fennick", "Tamber", 5, "chandler", "the chapel of lamps", 1070, 690,
     "Thursday", None, None),
    ("Larkspur", "Tamber", 13, "herbalist", "the physic garden", 1081, 520,
     "Monday", "百草", "hundred herbs"),
    ("Corrowick", "Tamber", 21, "glassblower", "the green tower", 1131,
     1380, "Saturday", None, None),
    ("Tamberley", "Tamber", 35, "ropemaker", "the long ropewalk", 1139,
     1760, "Friday", None, None),
    ("Pimwell", "Ysk", 2, "thatcher", "the holy well", 1002, 260,
     "Wednesday", None, None),
    ("Greymantle", "Ysk", 14, "cobbler", "the cobbled square", 1059, 980,
     "Monday", None, None),
    ("Rookhaven", "Ysk", 29, "tailor", "the rookery", 1103, 1190,
     "Thursday", "鸦港", "crow harbour"),
    ("Yarrowby", "Ysk", 45, "boatwright", "the slipway", 1147, 1650,
     "Saturday", None, None),
    ("Mossbury", "Lisle", 8, "papermaker", "the paper mill", 1044, 590,
     "Tuesday", None, None),
    ("Cindercott", "Lisle", 18, "clockmaker", "the clock tower", 1075, 830,
     "Friday", "钟村", "clock village"),
    ("Gallowmere", "Lisle", 26, "vintner", "the vine terraces", 1091, 740,
     "Sunday", None, None),
    ("Lislemouth", "Lisle", 37, "saddler", "the horse fair", 1118, 1420,
     "Wednesday", None, None),
]
TOWN_FIELDS = ("name", "river", "mile", "trade", "landmark", "founded",
               "population", "market_day", "cjk", "cjk_meaning")
TOWNS = [dict(zip(TOWN_FIELDS, t)) for t in _TOWNS]
TOWN_BY_NAME = {t["name"]: t for t in TOWNS}
TOWN_BY_TRADE = {t["trade"]: t for t in TOWNS}
INN_ADJECTIVES = ["Sleepy", "Crooked", "Golden", "Silver", "Blue", "Jolly",
                  "Drowsy", "Laughing", "Red", "Wandering", "Lucky", "Old",
                  "Merry", "Green"]

# Animals: singular, plural, where it lives, what it eats, what it does
# (3rd person singular / plural), when, and what it does in some seasons.
_ANIMALS = [
    ("heron", "herons", "in the reeds", "frogs and fish", "croaks", "croak",
     "at dawn", {"winter": ("stands still in the shallows",
                            "stand still in the shallows"),
                 "spring": ("builds a nest of sticks",
                            "build nests of sticks")}),
    ("otter", "otters", "under the riverbank", "eels", "whistles", "whistle",
     "at dusk", {"summer": ("plays in the weir pools",
                            "play in the weir pools"),
                 "winter": ("slides down the snowy bank",
                            "slide down the snowy bank")}),
    ("fox", "foxes", "in a den beneath the hedge", "mice and beetles",
     "barks", "bark", "at night",
     {"winter": ("leaves tracks in the snow", "leave tracks in the snow"),
      "spring": ("raises cubs", "raise cubs")}),
    ("badger", "badgers", "in a sett in the woods", "worms and roots",
     "grunts", "grunt", "at night",
     {"autumn": ("gathers dry bedding", "gather dry bedding"),
      "winter": ("sleeps for days", "sleep for days")}),
    ("owl", "owls", "in the hollow oak", "mice", "hoots", "hoot",
     "at midnight", {"autumn": ("hunts over the stubble fields",
                                "hunt over the stubble fields")}),
    ("hare", "hares", "in the long grass", "clover", "squeals", "squeal",
     "in the morning", {"spring": ("boxes in the meadow",
                                   "box in the meadow")}),
    ("crow", "crows", "in the tall elms", "seeds and grubs", "caws", "caw",
     "all day", {"autumn": ("follows the plough", "follow the plough")}),
    ("goose", "geese", "on the marsh", "grass", "honks", "honk", "at dawn",
     {"autumn": ("flies south in a long line", "fly south in long lines"),
      "spring": ("returns to the marsh", "return to the marsh")}),
    ("mouse", "mice", "in the granary", "grain", "squeaks", "squeak",
     "at night", {"autumn": ("hides seeds under the floor",
                             "hide seeds under the floor")}),
    ("wolf", "wolves", "in the far hills", "deer", "howls", "howl",
     "at midnight", {"winter": ("comes down to the valley",
                                "come down to the valley")}),
    ("swallow", "swallows", "under the eaves", "flies", "twitters",
     "twitter", "all day",
     {"spring": ("arrives from the south", "arrive from the south"),
      "summer": ("skims over the water", "skim over the water"),
      "autumn": ("gathers on the roofs", "gather on the roofs")}),
    ("frog", "frogs", "in the ditch", "flies and beetles", "croaks", "croak",
     "at dusk", {"spring": ("lays spawn in the pond",
                            "lay spawn in the pond")}),
    ("bee", "bees", "in the hive", "nectar", "hums", "hum",
     "in the afternoon", {"summer": ("visits the clover", "visit the clover"),
                          "winter": ("huddles in the hive",
                                     "huddle in the hive")}),
    ("deer", "deer", "in the beech woods", "acorns and leaves", "bells",
     "bell", "at dusk", {"autumn": ("roars on the hillside",
                                    "roar on the hillside")}),
    ("kingfisher", "kingfishers", "in a hole in the bank", "minnows",
     "dives", "dive", "in the morning",
     {"summer": ("flashes blue over the pool",
                 "flash blue over the pool")}),
    ("hedgehog", "hedgehogs", "under the woodpile", "slugs and snails",
     "snuffles", "snuffle", "at night",
     {"winter": ("sleeps under the leaves", "sleep under the leaves")}),
    ("squirrel", "squirrels", "in the hazel copse", "nuts", "chatters",
     "chatter", "in the morning",
     {"autumn": ("buries nuts in the ground", "bury nuts in the ground")}),
    ("mole", "moles", "under the pasture", "earthworms", "tunnels", "tunnel",
     "all day", {"spring": ("throws up fresh molehills",
                            "throw up fresh molehills")}),
    ("swan", "swans", "on the millpond", "water weed", "hisses", "hiss",
     "in the afternoon", {"spring": ("guards its nest", "guard their nests")}),
    ("bat", "bats", "in the church tower", "moths", "squeaks", "squeak",
     "at dusk", {"winter": ("hangs asleep in the tower",
                            "hang asleep in the tower")}),
    ("magpie", "magpies", "in the thorn hedge", "beetles and berries",
     "chatters", "chatter", "all day",
     {"spring": ("steals bright things", "steal bright things")}),
    ("boar", "boars", "in the oak forest", "acorns", "snorts", "snort",
     "at dusk", {"autumn": ("roots for acorns", "root for acorns")}),
    ("toad", "toads", "under the flat stones", "slugs", "croaks", "croak",
     "after rain", {"spring": ("walks back to the pond",
                               "walk back to the pond")}),
    ("lark", "larks", "in the open fields", "seeds", "sings", "sing",
     "at dawn", {"summer": ("sings high above the barley",
                            "sing high above the barley")}),
]
ANIMAL_FIELDS = ("sg", "pl", "home", "food", "does", "does_pl", "time",
                 "season")
ANIMALS = [dict(zip(ANIMAL_FIELDS, a)) for a in _ANIMALS]

# Trees: name, where it grows, who uses its wood, what it is used for,
# what happens to it in autumn.
TREES = [
    ("oak", "on the hills", "carpenters", "chairs and tables",
     "drops its acorns"),
    ("willow", "by the water", "basketmakers", "baskets and fences",
     "turns yellow"),
    ("larch", "on the high slopes", "boatwrights", "hulls and oars",
     "turns gold"),
    ("ash", "in the hedgerows", "wheelwrights", "handles and spokes",
     "loses its leaves early"),
    ("elm", "along the lanes", "coopers", "pipes and barrels",
     "turns brown"),
    ("hazel", "in the copses", "thatchers", "spars and hurdles",
     "drops its nuts"),
    ("rowan", "on the moors", "nobody", "charms against bad luck",
     "hangs with red berries"),
    ("yew", "in the churchyard", "bowyers", "bows", "keeps its needles"),
    ("beech", "in the deep woods", "turners", "bowls and spoons",
     "turns copper"),
    ("alder", "on the wet banks", "clog makers", "clogs and sluice gates",
     "keeps its cones"),
    ("birch", "on the heath", "broom makers", "brooms", "turns yellow"),
    ("holly", "under the oaks", "carvers", "whip handles",
     "shines with berries"),
]

# Crops: name, season sown, season harvested.
CROPS = [
    ("barley", "spring", "summer"), ("oats", "spring", "autumn"),
    ("rye", "autumn", "summer"), ("wheat", "autumn", "summer"),
    ("beans", "spring", "summer"), ("peas", "spring", "summer"),
    ("turnips", "summer", "winter"), ("leeks", "spring", "winter"),
    ("cabbages", "summer", "winter"), ("onions", "spring", "autumn"),
    ("hops", "spring", "autumn"), ("flax", "spring", "summer"),
]

MASS_CROPS = ("barley", "rye", "wheat", "flax")

SEASONS = {
    "spring": dict(weather=["soft rain", "warm showers", "a cool wind",
                            "sudden hail"],
                   adj=["wet", "mild", "green", "fresh"],
                   months=["March", "April", "May"],
                   work="plant beans and barley", feast="the Feast of Blossoms",
                   temp=(4, 15), wind="west"),
    "summer": dict(weather=["long sunshine", "dry heat", "a rare thunderstorm",
                            "warm evenings"],
                   adj=["hot", "dry", "bright", "dusty"],
                   months=["June", "July", "August"],
                   work="cut the hay", feast="the Midsummer Fair",
                   temp=(16, 31), wind="south"),
    "autumn": dict(weather=["thick fog", "strong wind", "cold rain",
                            "early frost"],
                   adj=["misty", "windy", "golden", "damp"],
                   months=["September", "October", "November"],
                   work="bring in the harvest", feast="the Apple Moot",
                   temp=(5, 14), wind="east"),
    "winter": dict(weather=["hard frost", "deep snow", "bitter sleet",
                            "freezing fog"],
                   adj=["cold", "frozen", "dark", "icy"],
                   months=["December", "January", "February"],
                   work="mend tools by the fire", feast="the Lantern Night",
                   temp=(-9, 3), wind="north"),
}
SEASON_ORDER = ["spring", "summer", "autumn", "winter"]
MONTH_TO_SEASON = {m: s for s in SEASON_ORDER for m in SEASONS[s]["months"]}

FIRST_NAMES = [
    ("Mira", "f"), ("Tobin", "m"), ("Elsa", "f"), ("Corran", "m"),
    ("Idris", "m"), ("Wenna", "f"), ("Halden", "m"), ("Bryn", "f"),
    ("Sela", "f"), ("Orrin", "m"), ("Tamsin", "f"), ("Ferris", "m"),
    ("Nell", "f"), ("Joss", "m"), ("Linnet", "f"), ("Ansel", "m"),
    ("Petra", "f"), ("Ivo", "m"), ("Maren", "f"), ("Dace", "m"),
    ("Ysolde", "f"), ("Cato", "m"), ("Rhea", "f"), ("Bram", "m"),
    ("Zoë", "f"), ("Émile", "m"), ("Anaïs", "f"), ("Renée", "f"),
    ("Noël", "m"), ("Inès", "f"), ("Jérôme", "m"), ("Chloé", "f"),
    ("Odo", "m"), ("Fenna", "f"), ("Gideon", "m"), ("Hester", "f"),
    ("Quill", "m"), ("Sorcha", "f"), ("Tarn", "m"), ("Una", "f"),
    ("Alder", "m"), ("Briony", "f"), ("Cael", "m"), ("Dilys", "f"),
    ("Edric", "m"), ("Flora", "f"), ("Garret", "m"), ("Hazel", "f"),
    ("Ivor", "m"), ("Jessa", "f"), ("Kit", "m"), ("Lorna", "f"),
    ("Madoc", "m"), ("Nesta", "f"), ("Oswin", "m"), ("Perrin", "m"),
    ("Roswitha", "f"), ("Silas", "m"), ("Thea", "f"), ("Ulric", "m"),
    ("Verity", "f"), ("Wystan", "m"), ("Yara", "f"), ("Zeb", "m"),
    ("Agnes", "f"), ("Berric", "m"), ("Cressida", "f"), ("Dunstan", "m"),
    ("Elowen", "f"), ("Fitch", "m"), ("Gwen", "f"), ("Hob", "m"),
    ("Isolde", "f"), ("Jory", "m"), ("Kerra", "f"), ("Leofric", "m"),
    ("Morwen", "f"), ("Nye", "m"), ("Olwen", "f"), ("Piran", "m"),
    ("Rosalind", "f"), ("Sten", "m"), ("Tegan", "f"), ("Wilf", "m"),
]
FAMILY_NAMES = [
    "Ashdown", "Pellow", "Greaves", "Marrick", "Thistlewood", "Quarrie",
    "Fenwright", "Holloway", "Brandle", "Cobbett", "Dunlin", "Everby",
    "Farrow", "Gillam", "Harrow", "Inchley", "Jessop", "Kettle", "Lorimer",
    "Mossop", "Nettles", "Oakes", "Penhallow", "Rudd", "Spratt", "Tolley",
    "Underhay", "Vane", "Whitlock", "Yelland", "Amberley", "Blewitt",
    "Catchpole", "Dimmock", "Fairweather", "Goodbody", "Hatherly",
    "Ivey", "Juniper", "Kemble",
]

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
            "Saturday", "Sunday"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven",
                "eight", "nine", "ten", "eleven", "twelve", "thirteen",
                "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                "nineteen", "twenty"]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth",
            "seventh", "eighth"]
COLOURS = ["red", "blue", "green", "yellow", "grey", "brown", "white",
           "black", "purple", "orange"]
FOODS = ["barley soup", "rye bread", "smoked eel", "apple cake",
         "pea porridge", "goat cheese", "honey buns", "mutton stew",
         "leek pie", "plum tart", "roast turnips", "oat biscuits",
         "pickled herring", "mushroom broth", "cherry dumplings"]
DRINKS = ["cider", "ale", "mint tea", "buttermilk", "elderflower cordial",
          "hot wine", "coffee"]
GOODS_ASKED = ["salt", "lamp oil", "needles", "tea", "dried figs", "pepper",
               "a new knife", "blue thread", "lemons", "sealing wax",
               "a good almanac", "pins"]
INSTRUMENTS = [("fiddle", "fiddler"), ("drum", "drummer"),
               ("harp", "harper"), ("pipe", "piper"), ("lute", "lutenist"),
               ("horn", "horn player")]
GAMES = ["a tug of war", "a sack race", "a boat race", "a pie-eating contest",
         "a dance around the maypole", "a cheese-rolling race",
         "a contest of riddles", "an archery match"]

# Daily chores: present (3rd person singular), past, -ing form, object.
CHORES = [
    ("lights", "lit", "lighting", "the fire"),
    ("feeds", "fed", "feeding", "the hens"),
    ("sweeps", "swept", "sweeping", "the yard"),
    ("fetches", "fetched", "fetching", "water from the well"),
    ("milks", "milked", "milking", "the goat"),
    ("mends", "mended", "mending", "the fence"),
    ("washes", "washed", "washing", "the linen"),
    ("chops", "chopped", "chopping", "firewood"),
    ("carries", "carried", "carrying", "sacks to the cart"),
    ("counts", "counted", "counting", "the coins"),
    ("visits", "visited", "visiting", "a sick neighbour"),
    ("paints", "painted", "painting", "the shutters"),
    ("plants", "planted", "planting", "leeks"),
    ("digs", "dug", "digging", "the garden"),
    ("writes", "wrote", "writing", "a letter"),
    ("reads", "read", "reading", "the almanac"),
    ("sings", "sang", "singing", "an old song"),
    ("buys", "bought", "buying", "salt"),
    ("cleans", "cleaned", "cleaning", "the tools"),
    ("brushes", "brushed", "brushing", "the horse"),
    ("repairs", "repaired", "repairing", "the roof"),
    ("cooks", "cooked", "cooking", "supper"),
    ("polishes", "polished", "polishing", "the lamps"),
    ("gathers", "gathered", "gathering", "mushrooms"),
    ("hangs", "hung", "hanging", "the washing"),
    ("sharpens", "sharpened", "sharpening", "the knives"),
    ("teaches", "taught", "teaching", "the apprentices"),
    ("picks", "picked", "picking", "apples"),
    ("stacks", "stacked", "stacking", "the logs"),
    ("weighs", "weighed", "weighing", "the flour"),
    ("waters", "watered", "watering", "the beans"),
    ("patches", "patched", "patching", "an old coat"),
    ("oils", "oiled", "oiling", "the hinges"),
    ("scrubs", "scrubbed", "scrubbing", "the floor"),
]

# Recipes: dish, ingredients, steps (imperative), how long it bakes/boils.
INGREDIENTS = ["flour", "eggs", "butter", "honey", "salt", "leeks", "onions",
               "barley", "apples", "pears", "plums", "cream", "milk", "oats",
               "walnuts", "thyme", "sage", "mint", "pepper", "cider",
               "carrots", "cheese", "mushrooms", "lard", "raisins"]
MEASURES = [("cup", "cups"), ("spoonful", "spoonfuls"),
            ("handful", "handfuls"), ("pinch", "pinches"),
            ("pound", "pounds"), ("jug", "jugs")]
STEPS = ["Mix the {a} with the {b}.", "Stir in the {a} slowly.",
         "Chop the {a} finely.", "Knead the dough until it is smooth.",
         "Boil the {a} for {n} minutes.", "Simmer gently and stir often.",
         "Pour the {a} over the {b}.", "Sprinkle {a} on top.",
         "Slice the {a} thinly.", "Whisk the {a} until they are light.",
         "Roast the {a} until they are golden.", "Fold in the {a}.",
         "Leave it to rest for {n} minutes.", "Grease the tin with {a}.",
         "Bake in a hot oven for {n} minutes.",
         "Serve it warm, with {a} on the side."]

WEATHER_LORE = [
    ("the swallows fly low", "rain is coming"),
    ("the geese leave early", "the winter will be long"),
    ("the frogs croak loudly", "a storm is near"),
    ("the owls hoot at noon", "fog will follow"),
    ("the bees stay in the hive", "thunder is on the way"),
    ("the rowan has many berries", "snow will be deep"),
    ("the river smells of salt", "the wind will turn"),
    ("the mist lies on the water", "the day will be fine"),
]


# Houses: rooms, furniture and what buildings are made of.
ROOMS = ["kitchen", "parlour", "pantry", "cellar", "attic", "bedroom",
         "scullery", "hall", "porch", "loft", "wash house", "study"]
FURNITURE = ["a long oak table", "a painted dresser", "a narrow bench",
             "a carved chest", "a rocking chair", "a copper bath",
             "a spinning wheel", "a cracked mirror", "a rag rug",
             "a box bed", "a tall clock", "a settle by the hearth",
             "a wooden cradle", "a row of shelves", "a three-legged stool",
             "a bread oven", "a brass lamp", "a cupboard full of jars"]
HOUSE_ADJECTIVES = ["cosy", "draughty", "tidy", "cluttered", "bright",
                    "gloomy", "warm", "damp", "narrow", "wide", "crooked",
                    "quiet", "noisy", "spotless"]
ROOF_BY_RIVER = {"Sorrel": "slate", "Amble": "thatch", "Quenna": "slate",
                 "Drathe": "red tiles", "Tamber": "thatch", "Ysk": "thatch",
                 "Lisle": "red tiles"}
WALLS_BY_RIVER = {"Sorrel": "grey stone", "Amble": "timber and plaster",
                  "Quenna": "granite", "Drathe": "red brick",
                  "Tamber": "flint", "Ysk": "cob", "Lisle": "chalk blocks"}

# Clothes and small things that get lost.
CLOTHES = ["cloak", "hat", "scarf", "apron", "waistcoat", "shawl", "hood",
           "jacket", "smock", "bonnet", "belt", "pair of gloves",
           "pair of boots", "pair of spectacles"]
MATERIALS = ["woollen", "linen", "leather", "velvet", "felt", "knitted",
             "silk", "patched"]
LOST_THINGS = ["purse", "key", "ring", "penknife", "thimble", "locket",
               "whistle", "pocket watch", "walking stick", "umbrella",
               "notebook", "lantern", "comb", "brooch"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]


def build_people(rng):
  """The fixed cast: three people for every town, working its trade."""
  names = list(FIRST_NAMES)
  families = list(FAMILY_NAMES)
  rng.shuffle(names)
  rng.shuffle(families)
  people = []
  for i, (first, gender) in enumerate(names):
    town = TOWNS[i % len(TOWNS)]
    people.append(dict(first=first, family=families[i % len(families)],
                       gender=gender, town=town["name"],
                       trade=town["trade"], age=rng.randint(19, 71)))
  return people


# ---------------------------------------------------------------------------
# Small grammar helpers.
# ---------------------------------------------------------------------------

def a_an(word):
  return ("an " if word[0].lower() in "aeiou" else "a ") + word


def cap(s):
  return s[:1].upper() + s[1:]


def coins(n):
  return "1 coin" if n == 1 else "%d coins" % n


def count_phrase(n, sg, pl, rng):
  """'one jug', 'three jugs' or '14 jugs' (the noun agrees with n)."""
  if n == 1:
    return ("one " if rng.random() < 0.7 else "a single ") + sg
  if n <= 20 and rng.random() < 0.6:
    return NUMBER_WORDS[n] + " " + pl
  return "%d %s" % (n, pl)


def degrees(n):
  return "%d degree" % n if abs(n) == 1 else "%d degrees" % n


def with_commas(n):
  return "{:,}".format(n)


def pronouns(person):
  if person["gender"] == "f":
    return dict(subj="she", obj="her", poss="her")
  return dict(subj="he", obj="him", poss="his")


def full_name(p):
  return "%s %s" % (p["first"], p["family"])


def towns_on(river):
  return sorted((t for t in TOWNS if t["river"] == river),
                key=lambda t: t["mile"])


def join_list(items):
  items = list(items)
  if len(items) == 1:
    return items[0]
  return ", ".join(items[:-1]) + " and " + items[-1]


def inn_name(town):
  i = TOWNS.index(town)
  animal = ANIMALS[(i * 5) % len(ANIMALS)]["sg"]
  return "the %s %s" % (INN_ADJECTIVES[i % len(INN_ADJECTIVES)],
                        cap(animal))


# ---------------------------------------------------------------------------
# Document generators.  Each returns a list of sentences (one per line).
# ---------------------------------------------------------------------------

class World:
  """Holds the cast and the random generator; writes documents."""

  def __init__(self, rng):
    self.rng = rng
    self.people = build_people(rng)
    self.people_by_town = collections.defaultdict(list)
    for p in self.people:
      self.people_by_town[p["town"]].append(p)

  # -- facts usable in several document types --------------------------

  def town_fact(self, town):
    r = self.rng
    trade = TRADE_BY_NAME[town["trade"]]
    river = RIVER_BY_NAME[town["river"]]
    options = [
        "%s lies on the river %s." % (town["name"], town["river"]),
        "%s is a town on the %s, %d miles below %s." % (
            town["name"], town["river"], town["mile"], river[1]),
        "%s is known for its %s." % (town["name"], trade["pl"]),
        "The %s of %s %s." % (trade["pl"], town["name"], trade["act_pl"]),
        "Most people in %s earn their bread as %s." % (
            town["name"], trade["pl"]),
        "Travellers come to %s to see %s." % (town["name"],
                                              town["landmark"]),
        "%s was founded in the year %d." % (town["name"], town["founded"]),
        "About %s people live in %s." % (with_commas(town["population"]),
                                         town["name"]),
        "The market in %s is held every %s." % (town["name"],
                                                town["market_day"]),
        "In %s, %s is the pride of the town." % (town["name"],
                                                 town["landmark"]),
        "If you need %s, go to %s." % (a_an(trade["product"]),
                                       town["name"]),
        "The best inn in %s is %s." % (town["name"], inn_name(town)),
    ]
    return r.choice(options)

  def river_relation(self, river_name):
    """A sentence comparing two towns on one river (consistent facts)."""
    r = self.rng
    a, b = sorted(r.sample(towns_on(river_name), 2),
                  key=lambda t: t["mile"])
    d = b["mile"] - a["mile"]
    options = [
        "%s lies upstream of %s." % (a["name"], b["name"]),
        "%s lies downstream of %s." % (b["name"], a["name"]),
        "From %s to %s is %d miles along the %s." % (
            a["name"], b["name"], d, river_name),
        "A boat drifting down the %s reaches %s after %s." % (
            river_name, b["name"], a["name"]),
        "%s is %d miles downstream from %s." % (b["name"], d, a["name"]),
        "Going upstream from %s, you come to %s after %d miles." % (
            b["name"], a["name"], d),
    ]
    return r.choice(options)

  def compare_towns(self):
    """A consistent comparison of two towns (size, age or place)."""
    r = self.rng
    a, b = r.sample(TOWNS, 2)
    kind = r.randrange(4)
    if kind == 0:
      big, small = (a, b) if a["population"] > b["population"] else (b, a)
      return r.choice([
          "%s is larger than %s." % (big["name"], small["name"]),
          "%s is smaller than %s." % (small["name"], big["name"]),
          "%s has more people than %s." % (big["name"], small["name"]),
          "%s has %s more people than %s." % (
              big["name"],
              with_commas(big["population"] - small["population"]),
              small["name"]),
      ])
    if kind == 1:
      old, new = (a, b) if a["founded"] < b["founded"] else (b, a)
      return r.choice([
          "%s is older than %s." % (old["name"], new["name"]),
          "%s is younger than %s." % (new["name"], old["name"]),
          "%s was founded %d years before %s." % (
              old["name"], new["founded"] - old["founded"], new["name"]),
          "%s was founded %d years after %s." % (
              new["name"], new["founded"] - old["founded"], old["name"]),
      ])
    if kind == 2:
      river = r.choice(RIVERS)[0]
      towns = towns_on(river)
      big = max(towns, key=lambda t: t["population"])
      small = min(towns, key=lambda t: t["population"])
      old = min(towns, key=lambda t: t["founded"])
      return r.choice([
          "%s is the largest town on the %s." % (big["name"], river),
          "%s is the smallest town on the %s." % (small["name"], river),
          "%s is the oldest town on the %s." % (old["name"], river),
          "The %s flows past %s." % (
              river, join_list([t["name"] for t in towns])),
      ])
    big = max(TOWNS, key=lambda t: t["population"])
    small = min(TOWNS, key=lambda t: t["population"])
    old = min(TOWNS, key=lambda t: t["founded"])
    new = max(TOWNS, key=lambda t: t["founded"])
    return r.choice([
        "%s is the largest town in the whole valley." % big["name"],
        "%s is the smallest of all the towns." % small["name"],
        "%s is the oldest town of all." % old["name"],
        "%s is the newest town of all." % new["name"],
    ])

  def animal_fact(self, animal, season=None):
    r = self.rng
    plural = r.random() < 0.5
    if season and season in animal["season"]:
      sg, pl = animal["season"][season]
      if plural:
        return "In %s the %s %s." % (season, animal["pl"], pl)
      return "In %s the %s %s." % (season, animal["sg"], sg)
    if plural:
      n = r.randint(2, 12)
      options = [
          "The %s live %s." % (animal["pl"], animal["home"]),
          "%s eat %s." % (cap(animal["pl"]), animal["food"]),
          "The %s %s %s." % (animal["pl"], animal["does_pl"],
                             animal["time"]),
          "We counted %s %s." % (count_phrase(n, animal["sg"],
                                              animal["pl"], r),
                                 animal["home"]),
          "%s %s %s %s." % (cap(NUMBER_WORDS[n]), animal["pl"],
                            animal["does_pl"], animal["time"]),
          "Young %s stay close to the nest." % animal["pl"],
      ]
    else:
      options = [
          "The %s lives %s." % (animal["sg"], animal["home"]),
          "%s eats %s." % (cap(a_an(animal["sg"])), animal["food"]),
          "The %s %s %s." % (animal["sg"], animal["does"],
                             animal["time"]),
          "A lone %s %s %s." % (animal["sg"], animal["does"],
                                animal["time"]),
          "Have you ever seen %s %s?" % (a_an(animal["sg"]),
                                         animal["home"]),
      ]
    return r.choice(options)

  def tree_fact(self, tree=None):
    r = self.rng
    name, where, users, uses, autumn = tree or r.choice(TREES)
    return r.choice([
        "The %s grows %s." % (name, where),
        "%s wood is prized by %s." % (cap(name), users),
        "From %s wood they make %s." % (name, uses),
        "In autumn the %s %s." % (name, autumn),
        "An old %s stands %s." % (name, where),
        "%s trees grow best %s." % (cap(name), where),
    ])

  def crop_fact(self):
    r = self.rng
    crop, sown, cut = r.choice(CROPS)
    verb = "is" if crop in MASS_CROPS else "are"
    return r.choice([
        "%s %s sown in %s and harvested in %s." % (cap(crop), verb, sown,
                                                  cut),
        "Farmers sow %s in %s." % (crop, sown),
        "In %s the farmers harvest the %s." % (cut, crop),
        "By %s the %s %s ready." % (cut, crop, verb),
    ])

  def weather_sentence(self, season, town=None):
    r = self.rng
    s = SEASONS[season]
    place = town["name"] if town else r.choice(TOWNS)["name"]
    month = r.choice(s["months"])
    lo, hi = s["temp"]
    options = [
        "In %s, %s brings %s." % (place, season, r.choice(s["weather"])),
        "%s in %s was %s." % (month, place, r.choice(s["adj"])),
        "The %s days in %s are often %s." % (season, place,
                                              r.choice(s["adj"])),
        "That %s there was %s over %s." % (season, r.choice(s["weather"]),
                                           place),
        "By the middle of %s, %s had settled on the valley." % (
            month, r.choice(s["weather"])),
        "In %s the wind blows from the %s." % (season, s["wind"]),
        "It was %s in %s that morning." % (degrees(r.randint(lo, hi)),
                                            place),
    ]
    return r.choice(options)

  # -- document types --------------------------------------------------

  def doc_person(self):
    r = self.rng
    p = r.choice(self.people)
    pr = pronouns(p)
    trade = TRADE_BY_NAME[p["trade"]]
    town = TOWN_BY_NAME[p["town"]]
    tools = list(trade["tools"])
    r.shuffle(tools)
    name = full_name(p)
    s = [r.choice([
        "%s is %s in %s." % (name, a_an(trade["name"]), town["name"]),
        "%s works as %s in the town of %s." % (name, a_an(trade["name"]),
                                               town["name"]),
        "This is the story of %s, the %s of %s." % (name, trade["name"],
                                                    town["name"]),
    ])]
    body = [
        "%s is %d years old." % (cap(pr["subj"]), p["age"]),
        "%s %s every day except %s." % (cap(pr["subj"]), trade["act"],
                                        town["market_day"]),
        "In %s %s %s uses %s and %s." % (
            pr["poss"], trade["place"], pr["subj"], a_an(tools[0]),
            a_an(tools[1])),
        "%s %s is the best thing in %s %s." % (
            cap(pr["poss"]), tools[2], pr["poss"], trade["place"]),
        "Each morning %s buys %s for %s work." % (
            pr["subj"], trade["material"], pr["poss"]),
        "%s says a good %s never lends out %s %s." % (
            p["first"], trade["name"], pr["poss"], tools[0]),
        "Every %s %s sells %s at the market." % (
            town["market_day"], pr["subj"], trade["product_pl"]),
        "%s sells each %s for %s." % (
            p["first"], trade["product"], coins(trade["price"])),
        "%s house stands near %s." % (cap(pr["poss"]), town["landmark"]),
        "Like most people in %s, %s lives close to the %s." % (
            town["name"], pr["subj"], town["river"]),
        "When the river is high, %s cannot reach %s %s." % (
            pr["subj"], pr["poss"], trade["place"]),
        "%s learned the trade from %s %s." % (
            cap(pr["subj"]), pr["poss"],
            r.choice(["mother", "father", "aunt", "uncle", "grandmother",
                      "grandfather", "older sister", "older brother"])),
        "%s favourite meal is %s." % (cap(pr["poss"]), r.choice(FOODS)),
        "%s likes a cup of %s in the evening." % (cap(pr["subj"]),
                                                  r.choice(DRINKS)),
        "Children in %s often watch %s at work." % (town["name"],
                                                    pr["obj"]),
        "%s has %s." % (p["first"], count_phrase(
            r.randint(1, 5), "apprentice", "apprentices", r)),
        "On feast days %s plays the %s." % (pr["subj"],
                                            r.choice(INSTRUMENTS)[0]),
        "Every morning %s %s %s." % (pr["subj"], *r.choice(CHORES)[::3]),
        "Yesterday %s %s %s." % (pr["subj"], *r.choice(CHORES)[1::2]),
        "Some evenings %s drinks at %s." % (pr["subj"], inn_name(town)),
        "%s wears %s %s %s." % (cap(pr["subj"]), a_an(r.choice(COLOURS)),
                                r.choice(MATERIALS), r.choice(CLOTHES)),
        self.weather_sentence(r.choice(SEASON_ORDER), town),
        self.town_fact(town),
        self.animal_fact(r.choice(ANIMALS)),
    ]
    others = [q for q in self.people_by_town[town["name"]] if q is not p]
    if others:
      q = r.choice(others)
      body.append("%s works beside %s, who is also %s." % (
          p["first"], full_name(q), a_an(trade["name"])))
      body.append("%s and %s share a %s by the %s." % (
          p["first"], q["first"], trade["place"], town["river"]))
      if q["age"] != p["age"]:
        older, younger = (p, q) if p["age"] > q["age"] else (q, p)
        body.append("%s is %d years older than %s." % (
            older["first"], older["age"] - younger["age"],
            younger["first"]))
    if town["cjk"]:
      body.append("On the sign above %s door, %s is written %s." % (
          pr["poss"], town["name"], town["cjk"]))
    if p["first"] in ("Zoë", "Anaïs", "Renée", "Chloé", "Inès", "Émile",
                      "Noël", "Jérôme"):
      body.append("After work %s drinks coffee at the café on the "
                  "square." % pr["subj"])
    r.shuffle(body)
    s.extend(body[:r.randint(2, 16)])
    s.append(r.choice([
        "Ask anyone in %s and they will point you to %s." % (
            town["name"], p["first"]),
        "That is all we know of %s for now." % p["first"],
        "%s hopes to visit %s one day." % (
            p["first"], r.choice([t for t in TOWNS if t is not town])["name"]),
    ]))
    return s

  def doc_day(self):
    """A day in someone's life: present, past and -ing verb forms."""
    r = self.rng
    p = r.choice(self.people)
    pr = pronouns(p)
    trade = TRADE_BY_NAME[p["trade"]]
    chores = r.sample(CHORES, r.randint(3, 9))
    tense = r.randrange(3)
    if tense == 0:
      s = [r.choice(["This is how %s spends a %s." % (
          p["first"], r.choice(WEEKDAYS)),
          "A day in the life of %s, the %s." % (p["first"],
                                               trade["name"])])]
      s.append("%s gets up %s." % (p["first"], r.choice(
          ["at dawn", "before the sun", "at six", "late", "early"])))
      for i, (pres, _, _, obj) in enumerate(chores):
        lead = ["First", "Then", "After that", "Next", "Later",
                "Before noon", "In the afternoon"][min(i, 6)]
        subj = p["first"] if i == 0 else pr["subj"]
        s.append("%s %s %s %s." % (lead, subj, pres, obj))
      s.append("At noon %s %s." % (pr["subj"], trade["act"]))
      s.append("In the evening %s eats %s and goes to bed." % (
          pr["subj"], r.choice(FOODS)))
    elif tense == 1:
      day = r.choice(WEEKDAYS)
      s = ["Last %s was a busy day for %s." % (day, p["first"])]
      for i, (_, past, _, obj) in enumerate(chores):
        lead = ["First", "Then", "After that", "Next", "Later",
                "Before noon", "In the afternoon"][min(i, 6)]
        subj = p["first"] if i == 0 else pr["subj"]
        s.append("%s %s %s %s." % (lead, subj, past, obj))
      s.append("By evening %s was tired and %s feet ached." % (
          pr["subj"], pr["poss"]))
    else:
      s = ["It is a %s morning in %s." % (
          r.choice(SEASONS[r.choice(SEASON_ORDER)]["adj"]), p["town"])]
      for i, (_, _, ing, obj) in enumerate(chores):
        q = p if i == 0 else r.choice(self.people_by_town[p["town"]])
        s.append("%s is %s %s." % (q["first"], ing, obj))
      if r.random() < 0.5:
        s.append("Who is %s %s today?" % (chores[0][2], chores[0][3]))
        s.append("%s is, as usual!" % p["first"])
    return s

  def doc_town(self):
    r = self.rng
    town = r.choice(TOWNS)
    trade = TRADE_BY_NAME[town["trade"]]
    river = RIVER_BY_NAME[town["river"]]
    neighbours = [t for t in towns_on(town["river"]) if t is not town]
    s = [r.choice([
        "%s is a town on the %s." % (town["name"], town["river"]),
        "Let me tell you about %s." % town["name"],
        "A short guide to %s, on the river %s." % (town["name"],
                                                   town["river"]),
    ])]
    body = [self.town_fact(town) for _ in range(r.randint(2, 5))]
    body.append("The %s rises in %s and flows into %s." % (
        river[0], river[1], river[2]))
    body.append("The fishers of %s take %s from the %s." % (
        town["name"], river[3], river[0]))
    for nb in r.sample(neighbours, r.randint(1, len(neighbours))):
      d = abs(nb["mile"] - town["mile"])
      way = "upstream" if nb["mile"] < town["mile"] else "downstream"
      body.append(r.choice([
          "%s is %d miles %s." % (nb["name"], d, way),
          "%d miles %s lies %s, a town of %s." % (
              d, way, nb["name"], TRADE_BY_NAME[nb["trade"]]["pl"]),
          "The road %s to %s is %d miles long." % (way, nb["name"], d),
      ]))
    body.append("The %s in %s use %s, %s and %s." % (
        trade["pl"], town["name"], *[a_an(x) for x in trade["tools"]]))
    body.append("%s costs %s in %s." % (
        cap(a_an(trade["product"])), coins(trade["price"]), town["name"]))
    body.append("The town hall has a %s façade of %s stone." % (
        r.choice(["tall", "plain", "painted", "crooked", "handsome"]),
        r.choice(COLOURS)))
    season = r.choice(SEASON_ORDER)
    body.append("Each %s the town holds %s." % (season,
                                                SEASONS[season]["feast"]))
    body.append(self.weather_sentence(season, town))
    body.append(self.animal_fact(r.choice(ANIMALS)))
    body.append(self.tree_fact())
    body.append(self.compare_towns())
    folk = self.people_by_town[town["name"]]
    if folk:
      p = r.choice(folk)
      body.append("Among its %s is %s, who is %d years old." % (
          trade["pl"], full_name(p), p["age"]))
    if town["cjk"]:
      body.append(r.choice([
          "In the eastern script the name %s is written %s." % (
              town["name"], town["cjk"]),
          "Old maps give the town as %s, which means %s." % (
              town["cjk"], town["cjk_meaning"]),
          "The characters %s and %s stand for %s." % (
              town["cjk"][0], town["cjk"][1], town["cjk_meaning"]),
          "「%s」 is painted on the gate of %s." % (town["cjk"],
                                                town["name"]),
      ]))
    if town["name"] in ("Quillhaven", "Pellmark", "Corrowick",
                        "Gallowmere"):
      body.append("The café by %s sells %s." % (town["landmark"],
                                                r.choice(FOODS)))
    r.shuffle(body)
    s.extend(body[:r.randint(2, 20)])
    return s

  def doc_market(self):
    r = self.rng
    town = r.choice(TOWNS)
    season = r.choice(SEASON_ORDER)
    s = [r.choice([
        "It was market day in %s." % town["name"],
        "On %s the market opened in %s." % (town["market_day"],
                                            town["name"]),
        "Here is what happened at the %s market in %s." % (
            town["market_day"], town["name"]),
    ])]
    s.append(self.weather_sentence(season, town))
    sellers = r.sample(self.people, r.randint(2, 7))
    total_all = 0
    for p in sellers:
      trade = TRADE_BY_NAME[p["trade"]]
      n = r.randint(1, 24)
      total = n * trade["price"]
      total_all += total
      home = p["town"]
      goods = count_phrase(n, trade["product"], trade["product_pl"], r)
      s.append(r.choice([
          "%s the %s sold %s at %s each, %s in all." % (
              p["first"], trade["name"], goods, coins(trade["price"]),
              coins(total)),
          "%s came from %s and sold %s for %s." % (
              full_name(p), home, goods, coins(total)),
          "%s, %s from %s, earned %s for %s." % (
              p["first"], a_an(trade["name"]), home, coins(total),
              goods),
          "For %s, %s took %s." % (goods, p["first"], coins(total)),
      ]))
      if r.random() < 0.3:
        s.append(r.choice([
            "%s shouted: \"Fine %s, cheap today!\"" % (
                p["first"], trade["product_pl"]),
            "\"Who needs %s?\" called %s." % (
                a_an(trade["product"]), p["first"]),
            "%s had to leave early; the road to %s is long." % (
                p["first"], home),
            "%s packed up at noon (%s had sold out)." % (
                p["first"], pronouns(p)["subj"]),
        ]))
    s.append(r.choice([
        "Together the sellers took %s that day." % coins(total_all),
        "The market master counted %s in all." % coins(total_all),
        "By sunset, %s had changed hands." % coins(total_all),
    ]))
    if r.random() < 0.5:
      buyer = r.choice(self.people)
      s.append("%s was looking for %s, but nobody had any." % (
          buyer["first"], r.choice(GOODS_ASKED)))
    if r.random() < 0.4:
      s.append(self.animal_fact(r.choice(ANIMALS), season))
    return s

  def doc_journey(self):
    r = self.rng
    river = r.choice(RIVERS)
    towns = towns_on(river[0])
    i, j = sorted(r.sample(range(len(towns)), 2))
    start, end = towns[i], towns[j]
    downstream = r.random() < 0.6
    if not downstream:
      start, end = end, start
    p = r.choice(self.people)
    season = r.choice(SEASON_ORDER)
    boat = r.choice(["barge", "skiff", "raft", "punt", "wherry",
                     "ferry", "rowing boat"])
    d = abs(end["mile"] - start["mile"])
    way = "down" if downstream else "up"
    s = ["%s took %s %s the %s from %s to %s." % (
        p["first"], a_an(boat), way, river[0], start["name"],
        end["name"])]
    s.append(self.weather_sentence(season, start))
    s.append("The %s left %s %s." % (boat, start["name"], r.choice(
        ["at dawn", "before noon", "after breakfast", "at first light"])))
    path = towns[i:j + 1] if downstream else list(reversed(towns[i:j + 1]))
    for prev, nxt in zip(path, path[1:]):
      leg = abs(nxt["mile"] - prev["mile"])
      s.append(r.choice([
          "After %d miles the %s passed %s." % (leg, boat, nxt["name"]),
          "%d miles on, the roofs of %s came into view." % (
              leg, nxt["name"]),
          "Next came %s, %d miles from %s." % (nxt["name"], leg,
                                              prev["name"]),
      ]))
      if nxt is not end and r.random() < 0.5:
        s.append("In %s the %s were busy; they %s." % (
            nxt["name"], TRADE_BY_NAME[nxt["trade"]]["pl"],
            TRADE_BY_NAME[nxt["trade"]]["act_pl"]))
      if r.random() < 0.5:
        s.append(self.animal_fact(r.choice(ANIMALS), season))
      if r.random() < 0.3:
        s.append(self.tree_fact())
    hours = max(1, d // (3 if downstream else 2))
    s.append(r.choice([
        "The whole trip was %d miles and took %d hours." % (d, hours),
        "In all, %s travelled %d miles %sstream." % (p["first"], d, way),
        "%s reached %s tired but happy." % (p["first"], end["name"]),
        "That night %s slept at %s in %s." % (p["first"], inn_name(end),
                                              end["name"]),
    ]))
    if r.random() < 0.5:
      s.append(self.river_relation(river[0]))
    return s

  def doc_seasons(self):
    r = self.rng
    town = r.choice(TOWNS)
    trade = TRADE_BY_NAME[town["trade"]]
    s = ["A year in %s." % town["name"]]
    for season in SEASON_ORDER:
      info = SEASONS[season]
      s.append(r.choice([
          "In %s the weather brings %s and the days are %s." % (
              season, r.choice(info["weather"]), r.choice(info["adj"])),
          "%s comes with %s." % (cap(season), r.choice(info["weather"])),
          "%s in %s is %s." % (cap(season), town["name"],
                               r.choice(info["adj"])),
          "The %s months are %s." % (season,
                                     join_list(info["months"])),
      ]))
      s.append(r.choice([
          "Farmers %s." % info["work"],
          "It is the time to %s." % info["work"],
          "In %s people %s." % (r.choice(info["months"]), info["work"]),
      ]))
      if r.random() < 0.6:
        beasts = [a for a in ANIMALS if season in a["season"]]
        s.append(self.animal_fact(r.choice(beasts), season))
      if r.random() < 0.4:
        s.append("The %s of %s still %s, whatever the weather." % (
            trade["pl"], town["name"], trade["act_pl"]))
      if r.random() < 0.3:
        s.append("Everyone looks forward to %s." % info["feast"])
      if r.random() < 0.3:
        s.append(self.crop_fact())
    return s

  def doc_weather_diary(self):
    r = self.rng
    p = r.choice(self.people)
    month = r.choice(list(MONTH_TO_SEASON))
    season = MONTH_TO_SEASON[month]
    info = SEASONS[season]
    lo, hi = info["temp"]
    s = ["Weather diary of %s, %s, in %s." % (full_name(p), p["town"],
                                              month)]
    start = r.randint(1, 20)
    for k in range(r.randint(3, 8)):
      t = r.randint(lo, hi)
      s.append("%s %d: %s, %s, wind from the %s." % (
          month, start + k, r.choice(info["weather"]), degrees(t),
          r.choice([info["wind"], info["wind"], "north", "south",
                    "east", "west"])))
    sign, result = r.choice(WEATHER_LORE)
    s.append("My grandmother always said: when %s, %s." % (sign, result))
    if r.random() < 0.5:
      s.append(self.animal_fact(r.choice(ANIMALS), season))
    return s

  def doc_animals(self):
    r = self.rng
    writer = r.choice(self.people)
    town = TOWN_BY_NAME[writer["town"]]
    s = [r.choice([
        "Notes on the animals near %s, by %s." % (town["name"],
                                                 full_name(writer)),
        "%s keeps a notebook about the animals of the %s." % (
            writer["first"], town["river"]),
        "What lives along the %s?" % town["river"],
    ])]
    for animal in r.sample(ANIMALS, r.randint(2, 6)):
      for _ in range(r.randint(1, 3)):
        season = r.choice(SEASON_ORDER) if r.random() < 0.4 else None
        s.append(self.animal_fact(animal, season))
      if r.random() < 0.3:
        n = r.randint(2, 40)
        s.append("On %s I saw %s near %s." % (
            r.choice(WEEKDAYS), count_phrase(n, animal["sg"],
                                             animal["pl"], r),
            town["landmark"]))
    if r.random() < 0.3:
      s.append(self.tree_fact())
    if r.random() < 0.3:
      s.append("Perhaps this is a naïve question, but why do %s "
               "never visit the town?" % r.choice(ANIMALS)["pl"])
    return s

  def doc_trees(self):
    r = self.rng
    town = r.choice(TOWNS)
    s = [r.choice(["The trees around %s." % town["name"],
                   "A walk through the woods near %s." % town["name"],
                   "Which wood is good for what?"])]
    for tree in r.sample(TREES, r.randint(2, 6)):
      for _ in range(r.randint(1, 3)):
        s.append(self.tree_fact(tree))
    for _ in range(r.randint(0, 3)):
      s.append(self.crop_fact())
    if r.random() < 0.4:
      s.append(self.animal_fact(r.choice(ANIMALS)))
    return s

  def doc_letter(self):
    r = self.rng
    writer, reader = r.sample(self.people, 2)
    wt, rt = TOWN_BY_NAME[writer["town"]], TOWN_BY_NAME[reader["town"]]
    month = r.choice(list(MONTH_TO_SEASON))
    season = MONTH_TO_SEASON[month]
    nxt = SEASON_ORDER[(SEASON_ORDER.index(season) + 1) % 4]
    trade = TRADE_BY_NAME[writer["trade"]]
    s = ["%s, %d %s." % (wt["name"], r.randint(1, 28), month),
         "Dear %s," % reader["first"]]
    body = [
        "I hope this letter finds you well in %s." % rt["name"],
        "Here in %s we have had %s all week." % (
            wt["name"], r.choice(SEASONS[season]["weather"])),
        "Business is good: I sold %s last %s!" % (
            count_phrase(r.randint(2, 30), trade["product"],
                         trade["product_pl"], r), wt["market_day"]),
        "My %s broke, so I must buy a new one." % r.choice(trade["tools"]),
        "Could you send me %s from %s?" % (r.choice(GOODS_ASKED),
                                           rt["name"]),
        "Is it true that the %s flooded again?" % rt["river"],
        "Do you still %s?" % TRADE_BY_NAME[reader["trade"]]["act_pl"],
        "My fiancée says hello; she is %s too." % a_an(trade["name"]),
        "Forgive my naïve question, but how far is %s from you?" % (
            r.choice([t for t in towns_on(rt["river"])
                      if t is not rt])["name"]),
        "Zoë came by yesterday (she was on her way to %s)." % (
            r.choice(TOWNS)["name"]),
        "We met at the café last %s — do you remember?" % season,
        "The children are well, and the youngest can count to %s." % (
            r.choice(NUMBER_WORDS[5:])),
        self.animal_fact(r.choice(ANIMALS), season),
        self.river_relation(r.choice(RIVERS)[0]),
        self.compare_towns(),
        "Write soon; %s is coming and the roads will be %s." % (
            nxt, r.choice(["muddy", "icy", "dusty", "flooded"])),
    ]
    if wt["cjk"] and rt["cjk"]:
      body.append("I wrote 「%s」 on the parcel, as they do in the "
                  "east." % rt["cjk"])
    r.shuffle(body)
    s.extend(body[:r.randint(2, 9)])
    s.append(r.choice(["Yours, %s." % writer["first"],
                       "With love from %s." % writer["first"],
                       "Your friend, %s %s." % (writer["first"],
                                                writer["family"])]))
    return s

  def doc_dialogue(self):
    r = self.rng
    a, b = r.sample(self.people, 2)
    ta, tb = TRADE_BY_NAME[a["trade"]], TRADE_BY_NAME[b["trade"]]
    town_b = TOWN_BY_NAME[b["town"]]
    pb = pronouns(b)
    s = ["%s met %s on the road to %s." % (a["first"], b["first"],
                                           town_b["name"])]
    lines = [
        "\"Where are you going?\" asked %s." % a["first"],
        "\"Home to %s,\" said %s." % (town_b["name"], b["first"]),
        "\"Are you still %s?\" asked %s." % (a_an(tb["name"]), a["first"]),
        "\"Yes, I %s, as always,\" %s answered." % (tb["act_pl"],
                                                   b["first"]),
        "\"Have you seen my %s?\" %s asked." % (ta["tools"][0], a["first"]),
        "\"No; ask the %s in %s,\" said %s." % (
            ta["pl"], TOWN_BY_TRADE[ta["name"]]["name"], b["first"]),
        "\"How much is %s?\" asked %s." % (a_an(tb["product"]), a["first"]),
        "\"%s, no less!\" said %s." % (cap(coins(tb["price"])),
                                       b["first"]),
        "%s laughed and shook %s head." % (b["first"], pb["poss"]),
        "\"The %s is high this year,\" said %s." % (town_b["river"],
                                                   a["first"]),
        "\"It was worse in %d,\" replied %s." % (r.randint(1150, 1230),
                                                b["first"]),
        "\"Did you hear the %s last night?\" asked %s." % (
            r.choice(ANIMALS)["pl"], b["first"]),
        "\"Let's meet at %s for a drink,\" said %s." % (
            inn_name(town_b), a["first"]),
    ]
    k = r.randint(2, len(lines))
    start = r.randint(0, len(lines) - k)
    s.extend(lines[start:start + k])
    s.append(r.choice(["Then they parted.",
                       "They walked on together until dusk.",
                       "%s waved goodbye." % a["first"]]))
    return s

  def doc_quiz(self):
    r = self.rng
    s = [r.choice(["Questions for the school in %s:" % r.choice(TOWNS)["name"],
                   "A quiz about the river towns.",
                   "Test yourself!"])]
    for _ in range(r.randint(2, 8)):
      town = r.choice(TOWNS)
      trade = TRADE_BY_NAME[town["trade"]]
      kind = r.randrange(7)
      if kind == 0:
        q = "Which river runs through %s?" % town["name"]
        a = "The %s." % town["river"]
      elif kind == 1:
        q = "What is %s known for?" % town["name"]
        a = "Its %s." % trade["pl"]
      elif kind == 2:
        q = "What does %s use?" % a_an(trade["name"])
        a = "%s and %s." % (cap(a_an(trade["tools"][0])),
                            a_an(trade["tools"][1]))
      elif kind == 3:
        n = r.randint(2, 12)
        q = "What do %d %s cost?" % (n, trade["product_pl"])
        a = "%s." % cap(coins(n * trade["price"]))
      elif kind == 4:
        other = r.choice([t for t in TOWNS if t is not town])
        diff = abs(other["founded"] - town["founded"])
        older = town if town["founded"] < other["founded"] else other
        q = "Which is older, %s or %s?" % (town["name"],
                                           other["name"])
        a = "%s, by %d years." % (older["name"], diff)
      elif kind == 5:
        animal = r.choice(ANIMALS)
        q = "Where does the %s live?" % animal["sg"]
        a = "%s." % cap(animal["home"])
      else:
        q = "Where does the %s rise?" % town["river"]
        a = "In %s." % RIVER_BY_NAME[town["river"]][1]
      s.append("Q: " + q)
      s.append("A: " + a)
    return s

  def doc_ledger(self):
    r = self.rng
    p = r.choice(self.people)
    trade = TRADE_BY_NAME[p["trade"]]
    s = ["Ledger of %s, %s of %s." % (full_name(p), trade["name"],
                                      p["town"])]
    total = 0
    for day in WEEKDAYS[:r.randint(3, 7)]:
      n = r.randint(0, 15)
      earned = n * trade["price"]
      total += earned
      if n == 0:
        s.append("%s: nothing sold (%s)." % (day, r.choice(
            ["rain", "feast day", "ill", "no buyers"])))
      else:
        s.append("%s: %d %s sold, %s." % (
            day, n, trade["product"] if n == 1 else trade["product_pl"],
            coins(earned)))
    spent = r.randint(1, total) if total > 1 else 0
    s.append("Total for the week: %s." % coins(total))
    if spent:
      s.append("Spent on %s: %s; left over: %s." % (
          trade["material"], coins(spent), coins(total - spent)))
    s.append("Price per %s: %s (same as last year)." % (
        trade["product"], coins(trade["price"])))
    return s

  def doc_history(self):
    r = self.rng
    towns = sorted(r.sample(TOWNS, r.randint(2, 6)),
                   key=lambda t: t["founded"])
    s = [r.choice(["A short history of the river towns.",
                   "How the towns were founded.",
                   "From the chronicle kept in %s." % towns[0]["name"]])]
    for t in towns:
      s.append(r.choice([
          "%s was founded in %d." % (t["name"], t["founded"]),
          "In the year %d, settlers built the first houses of %s." % (
              t["founded"], t["name"]),
          "The first %s came to %s in %d." % (
              TRADE_BY_NAME[t["trade"]]["pl"], t["name"], t["founded"]),
      ]))
    for a, b in zip(towns, towns[1:]):
      if r.random() < 0.6:
        s.append("%s is %d years older than %s." % (
            a["name"], b["founded"] - a["founded"], b["name"]))
    if r.random() < 0.5:
      t = r.choice(towns)
      s.append("By %d, %s had grown to %s people." % (
          t["founded"] + r.randint(100, 300), t["name"],
          with_commas(t["population"] // r.randint(2, 4))))
    if r.random() < 0.4:
      t = r.choice(towns)
      s.append("Today %s has about %s people... and many more on "
               "market day." % (t["name"], with_commas(t["population"])))
    cjk_towns = [t for t in towns if t["cjk"]]
    if cjk_towns:
      t = cjk_towns[0]
      s.append("The eastern traders wrote the name %s as %s (%s)." % (
          t["name"], t["cjk"], t["cjk_meaning"]))
      if r.random() < 0.3:
        s.append("%s在河边。" % t["cjk"])
    return s

  def doc_recipe(self):
    r = self.rng
    p = r.choice(self.people)
    dish = r.choice(FOODS)
    ingredients = r.sample(INGREDIENTS, r.randint(3, 7))
    s = [r.choice(["How %s makes %s." % (p["first"], dish),
                   "A recipe for %s from %s." % (dish, p["town"]),
                   "%s, the way they cook it in %s." % (cap(dish),
                                                        p["town"])])]
    for ing in ingredients:
      n = r.randint(1, 6)
      sg, pl = r.choice(MEASURES)
      s.append("Take %s of %s." % (count_phrase(n, sg, pl, r), ing))
    for step in r.sample(STEPS, r.randint(2, 7)):
      a, b = r.sample(ingredients, 2)
      s.append(step.format(a=a, b=b, n=r.choice([5, 10, 15, 20, 30,
                                                 40, 45, 60])))
    s.append(r.choice(["It feeds %s." % count_phrase(
                           r.randint(2, 12), "person", "people", r),
                       "Eat it with a cup of %s." % r.choice(DRINKS),
                       "Enjoy!"]))
    return s

  def doc_inn(self):
    r = self.rng
    town = r.choice(TOWNS)
    name = inn_name(town)
    host = r.choice(self.people_by_town[town["name"]])
    rooms = r.randint(3, 14)
    price = r.randint(2, 9)
    s = ["%s stands near %s in %s." % (cap(name), town["landmark"],
                                      town["name"])]
    body = [
        "It has %s, and a bed costs %s a night." % (
            count_phrase(rooms, "room", "rooms", r), coins(price)),
        "Two nights cost %s; a week costs %s." % (coins(2 * price),
                                                  coins(7 * price)),
        "The cook serves %s and %s." % tuple(r.sample(FOODS, 2)),
        "The %s here is the best on the %s." % (r.choice(DRINKS),
                                                town["river"]),
        "%s is a friend of the innkeeper." % full_name(host),
        "On %s evenings a %s plays by the fire." % (
            town["market_day"], r.choice(INSTRUMENTS)[1]),
        "Many %s stay here on their way down the %s." % (
            r.choice(TRADES)["pl"], town["river"]),
        "The sign shows %s." % a_an(name.split()[-1].lower()),
        "Guests must be in by %s o'clock." % r.choice(NUMBER_WORDS[9:13]),
        "No dogs, no drums, no arguments!",
        self.town_fact(town),
    ]
    r.shuffle(body)
    s.extend(body[:r.randint(2, len(body))])
    return s

  def doc_festival(self):
    r = self.rng
    town = r.choice(TOWNS)
    season = r.choice(SEASON_ORDER)
    info = SEASONS[season]
    s = ["Every %s, %s holds %s." % (season, town["name"], info["feast"])]
    s.append("It falls in %s, on the %s %s of the month." % (
        r.choice(info["months"]), r.choice(ORDINALS[:4]),
        town["market_day"]))
    for game in r.sample(GAMES, r.randint(1, 4)):
      winner = r.choice(self.people)
      s.append(r.choice([
          "There is %s, and the winner gets %s." % (game, coins(
              r.randint(2, 20))),
          "Last year %s won %s." % (winner["first"], game),
          "%s came %s in %s." % (winner["first"],
                                 r.choice(ORDINALS[:3]), game),
      ]))
    inst, player = r.choice(INSTRUMENTS)
    s.append("A %s from %s plays the %s until midnight." % (
        player, r.choice(TOWNS)["name"], inst))
    s.append("People eat %s and drink %s." % (r.choice(FOODS),
                                              r.choice(DRINKS)))
    if r.random() < 0.5:
      s.append(self.weather_sentence(season, town))
    if r.random() < 0.3:
      s.append("The %s sell %s at half price." % (
          TRADE_BY_NAME[town["trade"]]["pl"],
          TRADE_BY_NAME[town["trade"]]["product_pl"]))
    return s

  def doc_proverbs(self):
    r = self.rng
    s = [r.choice(["Sayings from the river towns.",
                   "Old words, still true.",
                   "What the grandparents say:"])]
    for _ in range(r.randint(3, 9)):
      kind = r.randrange(4)
      if kind == 0:
        t = r.choice(TRADES)
        a = r.choice(ANIMALS)
        s.append("%s without %s is like %s without %s." % (
            cap(a_an(t["name"])), a_an(t["tools"][0]),
            a_an(a["sg"]), a["food"].split(" and ")[0]))
      elif kind == 1:
        sign, result = r.choice(WEATHER_LORE)
        s.append("When %s, %s." % (sign, result))
      elif kind == 2:
        t = r.choice(TRADES)
        s.append("Never buy %s on a %s." % (
            a_an(t["product"]),
            [d for d in WEEKDAYS
             if d != TOWN_BY_TRADE[t["name"]]["market_day"]][
                 r.randrange(6)]))
      else:
        river = r.choice(RIVERS)
        s.append("Whatever falls in the %s ends in %s." % (
            river[0], river[2]))
    return s

  def doc_lesson(self):
    """Arithmetic, calendar and counting lessons (exact regularities)."""
    r = self.rng
    s = [r.choice(["Today's lesson at the school in %s." %
                   r.choice(TOWNS)["name"],
                   "Sums for the children.",
                   "Learn these by heart!"])]
    for _ in range(r.randint(3, 10)):
      kind = r.randrange(8)
      if kind == 0:
        a, b = r.randint(1, 10), r.randint(1, 10)
        s.append("%s and %s make %s." % (
            cap(NUMBER_WORDS[a]), NUMBER_WORDS[b],
            NUMBER_WORDS[a + b]))
      elif kind == 1:
        a = r.randint(2, 20)
        b = r.randint(1, a - 1)
        s.append("%s take away %s leaves %s." % (
            cap(NUMBER_WORDS[a]), NUMBER_WORDS[b],
            NUMBER_WORDS[a - b]))
      elif kind == 2:
        a = r.randint(1, 10)
        s.append("Double %s is %s." % (NUMBER_WORDS[a],
                                       NUMBER_WORDS[2 * a]))
      elif kind == 3:
        a, b = r.randint(2, 12), r.randint(2, 12)
        s.append("%d times %d is %d." % (a, b, a * b))
      elif kind == 4:
        i = r.randrange(12)
        s.append("%s is the %s month of the year." % (
            MONTHS[i], ["first", "second", "third", "fourth", "fifth",
                        "sixth", "seventh", "eighth", "ninth",
                        "tenth", "eleventh", "twelfth"][i]))
      elif kind == 5:
        i = r.randrange(12)
        s.append("After %s comes %s." % (MONTHS[i],
                                          MONTHS[(i + 1) % 12]))
      elif kind == 6:
        i = r.randrange(7)
        s.append("The day after %s is %s." % (WEEKDAYS[i],
                                              WEEKDAYS[(i + 1) % 7]))
      else:
        m = r.choice(MONTHS)
        s.append("%s is a month of %s." % (m, MONTH_TO_SEASON[m]))
    return s

  def doc_house(self):
    r = self.rng
    p = r.choice(self.people)
    pr = pronouns(p)
    town = TOWN_BY_NAME[p["town"]]
    rooms = r.sample(ROOMS, r.randint(2, 6))
    s = [r.choice([
        "%s lives in a %s house in %s." % (
            full_name(p), r.choice(HOUSE_ADJECTIVES), town["name"]),
        "Come inside the house of %s." % full_name(p),
        "The house of %s stands near %s." % (p["first"],
                                             town["landmark"]),
    ])]
    s.append(r.choice([
        "Like every house in %s, it has a roof of %s." % (
            town["name"], ROOF_BY_RIVER[town["river"]]),
        "Its walls are %s, as they are all along the %s." % (
            WALLS_BY_RIVER[town["river"]], town["river"]),
        "The walls are %s and the roof is %s." % (
            WALLS_BY_RIVER[town["river"]], ROOF_BY_RIVER[town["river"]]),
    ]))
    s.append("The house has %s: %s." % (
        count_phrase(len(rooms), "room", "rooms", r), join_list(rooms)))
    for room in rooms:
      s.append(r.choice([
          "In the %s there is %s." % (room, r.choice(FURNITURE)),
          "The %s is %s." % (room, r.choice(HOUSE_ADJECTIVES)),
          "%s keeps %s %s in the %s." % (
              cap(pr["subj"]), pr["poss"],
              r.choice(TRADE_BY_NAME[p["trade"]]["tools"]), room),
          "The %s has %s." % (room, r.choice(FURNITURE)),
      ]))
    if r.random() < 0.5:
      s.append("The front door is painted %s." % r.choice(COLOURS))
    if r.random() < 0.4:
      animal = r.choice(ANIMALS)
      s.append("%s %s live %s nearby." % (
          cap(NUMBER_WORDS[r.randint(2, 9)]), animal["pl"],
          animal["home"]))
    if r.random() < 0.5:
      s.append("By the door hangs %s %s %s." % (
          pr["poss"], r.choice(MATERIALS), r.choice(CLOTHES)))
    return s

  def doc_notice(self):
    r = self.rng
    town = r.choice(TOWNS)
    p = r.choice(self.people_by_town[town["name"]])
    if r.random() < 0.5:
      thing, adj = r.choice(LOST_THINGS), r.choice(COLOURS)
    else:
      thing, adj = r.choice(CLOTHES), r.choice(MATERIALS)
    day = r.choice(WEEKDAYS)
    lost = r.random() < 0.6
    s = ["%s: %s %s, near %s, on %s." % (
        "LOST" if lost else "FOUND", a_an(adj), thing, town["landmark"],
        day)]
    if lost:
      s.append("It belongs to %s, %s of %s." % (
          full_name(p), TRADE_BY_NAME[p["trade"]]["name"],
          town["name"]))
      s.append("Reward: %s." % coins(r.randint(1, 12)))
    else:
      s.append("It is now kept at %s." % inn_name(town))
      s.append("The owner may ask for %s there." % p["first"])
    s.append(r.choice([
        "Please ask at %s (near %s)." % (inn_name(town),
                                         town["landmark"]),
        "Notices stay up for %s days." % NUMBER_WORDS[r.randint(3, 14)],
        "Do not write on this board!",
        "Other notices: %s." % ("the ferry does not run on %s" %
                                r.choice(WEEKDAYS)),
    ]))
    if r.random() < 0.4:
      s.append("Also wanted: %s, %s and %s." % tuple(
          a_an(t["name"]) for t in r.sample(TRADES, 3)))
    return s

  GENERATORS = ("doc_person", "doc_day", "doc_town", "doc_market",
                "doc_journey", "doc_seasons", "doc_weather_diary",
                "doc_animals", "doc_trees", "doc_letter", "doc_dialogue",
                "doc_quiz", "doc_ledger", "doc_history", "doc_recipe",
                "doc_inn", "doc_festival", "doc_proverbs", "doc_lesson",
                "doc_house", "doc_notice")

  def document(self):
    gen = getattr(self, self.rng.choice(self.GENERATORS))
    sentences = []
    for line in gen():          # drop repeated lines, keep order
      if line not in sentences:
        sentences.append(line)
    while len(sentences) < 3:   # every document has 3 to 30 lines
      extra = self.town_fact(self.rng.choice(TOWNS))
      if extra not in sentences:
        sentences.append(extra)
    return sentences[:30]


def make_corpus(target_bytes, seed=SEED):
  rng = random.Random(seed)
  world = World(rng)
  docs = []
  size = 0
  while size < target_bytes:
    doc = "\n".join(world.document()) + "\n"
    docs.append(doc)
    size += len(doc.encode("utf-8")) + 1
  return "\n".join(docs)


# ---------------------------------------------------------------------------
# Vocabulary construction, on the project's own basic tokenizer (what an uncased
# BERT does before WordPiece).
# ---------------------------------------------------------------------------

basic_tokenize = tokenization.BasicTokenizer(do_lower_case=True).tokenize


def build_vocab(corpus):
  counts = collections.Counter()
  for line in corpus.splitlines():
    counts.update(basic_tokenize(line))

  vocab = list(SPECIAL_TOKENS)
  seen = set(vocab)

  def add(tok):
    if tok not in seen:
      seen.add(tok)
      vocab.append(tok)

  chars = sorted({ch for tok in counts for ch in tok})
  for ch in chars:
    add(ch)
  for ch in chars:
    add("##" + ch)

  words = sorted((w for w, c in counts.items()
                  if len(w) > 1 and c >= MIN_WORD_COUNT),
                 key=lambda w: (-counts[w], w))
  for w in words[:MAX_WHOLE_WORDS]:
    add(w)

  # Word endings of 2-5 letters, weighted by how often their words occur;
  # at least two letters must remain in front of the ending.
  suffixes = collections.Counter()
  for w, c in counts.items():
    if not w.isalpha():
      continue
    for k in range(2, 6):
      if len(w) - k >= 2:
        suffixes[w[-k:]] += c
  ranked = sorted((s for s, c in suffixes.items() if c >= MIN_SUFFIX_COUNT),
                  key=lambda s: (-suffixes[s], s))
  added = 0
  for s in ranked:
    if added >= NUM_SUFFIXES:
      break
    if "##" + s not in seen:
      add("##" + s)
      added += 1
  return vocab, counts


def write_atomic(path, text):
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8", newline="\n") as f:
    f.write(text)
  os.replace(tmp, path)


def main():
  parser = argparse.ArgumentParser(
      description="Generate sample_data/corpus.txt and sample_data/vocab.txt.")
  parser.add_argument("--out_dir",
                      default=os.path.dirname(os.path.abspath(__file__)))
  parser.add_argument("--target_bytes", type=int, default=TARGET_BYTES)
  parser.add_argument("--seed", type=int, default=SEED)
  args = parser.parse_args()

  corpus = make_corpus(args.target_bytes, args.seed)
  vocab, counts = build_vocab(corpus)

  os.makedirs(args.out_dir, exist_ok=True)
  corpus_path = os.path.join(args.out_dir, "corpus.txt")
  vocab_path = os.path.join(args.out_dir, "vocab.txt")
  write_atomic(corpus_path, corpus)
  write_atomic(vocab_path, "\n".join(vocab) + "\n")

  n_docs = corpus.count("\n\n") + 1
  n_sent = sum(1 for line in corpus.split("\n") if line.strip())
  print("wrote %s: %d bytes, %d documents, %d sentences, %d distinct "
        "basic tokens" % (corpus_path, len(corpus.encode("utf-8")), n_docs,
                          n_sent, len(counts)))
  print("wrote %s: %d tokens" % (vocab_path, len(vocab)))


if __name__ == "__main__":
  main()
