"""Words for the synthetic SMPD: SMPD's 11 categories, subcategories, topic words with
their translations, and photo-sharing words, so that generated titles and tags are
multilingual and a multilingual text encoder can find the same signal in every language.
"""

from __future__ import annotations

LANGUAGES = ("en", "es", "fr", "de", "it", "ja", "zh")
# Share of users writing in each language (Flickr is mostly English).
LANGUAGE_SHARE = (0.58, 0.1, 0.08, 0.08, 0.06, 0.05, 0.05)

# category -> (subcategories, topic words as "en|es|fr|de|it|ja|zh")
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Animal": (
        ("Dog", "Cat", "Bird", "Horse", "Wildlife", "Insect", "Fish"),
        ("dog|perro|chien|hund|cane|犬|狗", "cat|gato|chat|katze|gatto|猫|猫咪",
         "bird|pájaro|oiseau|vogel|uccello|鳥|鸟", "horse|caballo|cheval|pferd|cavallo|馬|马",
         "puppy|cachorro|chiot|welpe|cucciolo|子犬|小狗", "wild|salvaje|sauvage|wild|selvaggio|野生|野生"),
    ),
    "Electronics": (
        ("Camera", "Phone", "Computer", "Gadget", "Robot", "Audio", "Gaming"),
        ("camera|cámara|appareil|kamera|fotocamera|カメラ|相机",
         "phone|teléfono|téléphone|telefon|telefono|電話|手机",
         "computer|ordenador|ordinateur|computer|computer|パソコン|电脑",
         "lens|lente|objectif|objektiv|obiettivo|レンズ|镜头",
         "robot|robot|robot|roboter|robot|ロボット|机器人",
         "music|música|musique|musik|musica|音楽|音乐"),
    ),
    "Entertainment": (
        ("Books", "Movies", "Music", "Art", "Theatre", "Games", "Festival"),
        ("book|libro|livre|buch|libro|本|书", "movie|película|film|film|film|映画|电影",
         "concert|concierto|concert|konzert|concerto|コンサート|音乐会",
         "art|arte|art|kunst|arte|芸術|艺术", "dance|baile|danse|tanz|danza|ダンス|舞蹈",
         "painting|pintura|peinture|gemälde|pittura|絵画|绘画"),
    ),
    "Family": (
        ("Baby", "Kids", "Parents", "Wedding", "Home", "Grandparents", "Pets"),
        ("baby|bebé|bébé|baby|bambino|赤ちゃん|婴儿", "family|familia|famille|familie|famiglia|家族|家庭",
         "child|niño|enfant|kind|bambina|子供|孩子", "wedding|boda|mariage|hochzeit|matrimonio|結婚式|婚礼",
         "mother|madre|mère|mutter|madre|母|母亲", "home|hogar|maison|zuhause|casa|家|家"),
    ),
    "Fashion": (
        ("Hair", "Makeup", "Clothes", "Shoes", "Jewelry", "Model", "Style"),
        ("dress|vestido|robe|kleid|vestito|ドレス|连衣裙", "hair|pelo|cheveux|haare|capelli|髪|头发",
         "model|modelo|mannequin|model|modella|モデル|模特", "shoes|zapatos|chaussures|schuhe|scarpe|靴|鞋子",
         "style|estilo|style|stil|stile|スタイル|风格", "beauty|belleza|beauté|schönheit|bellezza|美しさ|美丽"),
    ),
    "Food": (
        ("Dessert", "Drink", "Fruit", "Restaurant", "Cooking", "Breakfast", "Street food"),
        ("cake|pastel|gâteau|kuchen|torta|ケーキ|蛋糕", "coffee|café|café|kaffee|caffè|コーヒー|咖啡",
         "fruit|fruta|fruit|obst|frutta|果物|水果", "dinner|cena|dîner|abendessen|cena|夕食|晚餐",
         "bread|pan|pain|brot|pane|パン|面包", "wine|vino|vin|wein|vino|ワイン|葡萄酒"),
    ),
    "Holiday&Celebrations": (
        ("Christmas", "Birthday", "Halloween", "Party", "Fireworks", "Easter", "New year"),
        ("christmas|navidad|noël|weihnachten|natale|クリスマス|圣诞节",
         "birthday|cumpleaños|anniversaire|geburtstag|compleanno|誕生日|生日",
         "party|fiesta|fête|party|festa|パーティー|聚会",
         "fireworks|fuegos|feux|feuerwerk|fuochi|花火|烟花",
         "gift|regalo|cadeau|geschenk|regalo|プレゼント|礼物",
         "holiday|vacaciones|vacances|urlaub|vacanza|休日|假期"),
    ),
    "Social&People": (
        ("Love", "Friends", "Portrait", "Selfie", "Crowd", "Couple", "Street"),
        ("love|amor|amour|liebe|amore|愛|爱", "friends|amigos|amis|freunde|amici|友達|朋友",
         "portrait|retrato|portrait|porträt|ritratto|肖像|肖像", "smile|sonrisa|sourire|lächeln|sorriso|笑顔|微笑",
         "girl|chica|fille|mädchen|ragazza|女の子|女孩", "people|gente|gens|leute|persone|人々|人们"),
    ),
    "Travel&Active&Sports": (
        ("Gymnastics", "Football", "Hiking", "Cycling", "Surfing", "Running", "Skiing"),
        ("beach|playa|plage|strand|spiaggia|ビーチ|海滩", "mountain|montaña|montagne|berg|montagna|山|山",
         "travel|viaje|voyage|reise|viaggio|旅行|旅行", "football|fútbol|football|fußball|calcio|サッカー|足球",
         "bike|bicicleta|vélo|fahrrad|bicicletta|自転車|自行车", "sea|mar|mer|meer|mare|海|大海"),
    ),
    "Urban": (
        ("Architecture", "Bridge", "Night city", "Graffiti", "Transport", "Market", "Skyline"),
        ("city|ciudad|ville|stadt|città|都市|城市", "building|edificio|bâtiment|gebäude|edificio|建物|建筑",
         "bridge|puente|pont|brücke|ponte|橋|桥", "street|calle|rue|straße|strada|通り|街道",
         "night|noche|nuit|nacht|notte|夜|夜晚", "train|tren|train|zug|treno|電車|火车"),
    ),
    "Whether&Season": (
        ("Snow", "Rain", "Sunset", "Autumn", "Spring", "Clouds", "Storm"),
        ("sunset|atardecer|coucher|sonnenuntergang|tramonto|夕日|日落", "snow|nieve|neige|schnee|neve|雪|雪",
         "rain|lluvia|pluie|regen|pioggia|雨|雨", "autumn|otoño|automne|herbst|autunno|秋|秋天",
         "flowers|flores|fleurs|blumen|fiori|花|花朵", "sky|cielo|ciel|himmel|cielo|空|天空"),
    ),
}

# Words photographers add whatever the topic; a few of them carry popularity.
PHOTO_WORDS: tuple[str, ...] = (
    "explore", "nikon", "canon", "sony", "iphone", "hdr", "bw", "blackandwhite", "longexposure",
    "bokeh", "macro", "35mm", "film", "instagram", "photography", "landscape", "nature",
    "light", "colors", "beautiful", "amazing", "2015", "2016", "vsco", "streetphotography",
)

# Filler words per language, in the order of LANGUAGES.
FILLERS: tuple[tuple[str, ...], ...] = (
    ("the", "my", "a", "of", "in", "at", "with", "and", "day", "today", "our"),
    ("el", "la", "mi", "de", "en", "con", "y", "día", "hoy", "nuestro"),
    ("le", "la", "mon", "de", "en", "avec", "et", "jour", "aujourd'hui", "notre"),
    ("der", "die", "mein", "von", "im", "mit", "und", "tag", "heute", "unser"),
    ("il", "la", "mio", "di", "in", "con", "e", "giorno", "oggi", "nostro"),
    ("の", "と", "で", "今日", "私の", "日"),
    ("的", "和", "在", "今天", "我的", "日"),
)

# Real photos that ship with scikit-image, by category: the objects images are drawn from.
PHOTOS: dict[str, tuple[str, ...]] = {
    "Animal": ("chelsea", "cat"),
    "Electronics": ("camera", "clock"),
    "Entertainment": ("page", "text", "colorwheel"),
    "Family": ("astronaut", "camera"),
    "Fashion": ("astronaut", "colorwheel"),
    "Food": ("coffee",),
    "Holiday&Celebrations": ("rocket", "colorwheel", "hubble_deep_field"),
    "Social&People": ("astronaut", "camera"),
    "Travel&Active&Sports": ("moon", "grass", "gravel"),
    "Urban": ("brick", "rocket", "clock"),
    "Whether&Season": ("grass", "hubble_deep_field", "coins"),
}

# (time zone id, UTC offset) pairs with a rough home coordinate, for users' profiles.
TIMEZONES: tuple[tuple[str, str, float, float], ...] = (
    ("America/New_York", "-05:00", 40.7, -74.0),
    ("America/Los_Angeles", "-08:00", 34.1, -118.2),
    ("America/Chicago", "-06:00", 41.9, -87.6),
    ("Europe/London", "+00:00", 51.5, -0.1),
    ("Europe/Paris", "+01:00", 48.9, 2.35),
    ("Europe/Berlin", "+01:00", 52.5, 13.4),
    ("Europe/Madrid", "+01:00", 40.4, -3.7),
    ("Europe/Rome", "+01:00", 41.9, 12.5),
    ("Asia/Tokyo", "+09:00", 35.7, 139.7),
    ("Asia/Shanghai", "+08:00", 31.2, 121.5),
    ("Australia/Sydney", "+10:00", -33.9, 151.2),
    ("America/Sao_Paulo", "-03:00", -23.5, -46.6),
)
# The time zone most users of each language live in (index into TIMEZONES).
LANGUAGE_TIMEZONES: dict[str, tuple[int, ...]] = {
    "en": (0, 1, 2, 3, 10), "es": (6, 11), "fr": (4,), "de": (5,), "it": (7,),
    "ja": (8,), "zh": (9,),
}
