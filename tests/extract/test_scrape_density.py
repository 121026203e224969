"""The scrape cleaner drops chrome its English patterns do not know: navigation and footers in any
language go with the densest block of text (worker/extract/text.py, ``densest_block``)."""

from __future__ import annotations

from worker.extract.text import clean_scrape, densest_block

RU_NAV = ["Главная", "Новости", "Политика", "Экономика", "Общество", "Спорт", "Культура", "Поиск"]
RU_BODY = [
    "Правительство страны в среду объявило о новом пакете мер поддержки для малого и среднего бизнеса, "
    "который пострадал от роста цен на энергоносители в последние месяцы.",
    "По словам министра экономики, программа рассчитана на два года и включает налоговые льготы, "
    "субсидии на оплату электроэнергии и упрощённый доступ к кредитам для предприятий в регионах.",
    "Представители деловых ассоциаций назвали решение своевременным, однако выразили сомнение в том, "
    "что выделенных средств хватит всем нуждающимся компаниям до конца следующего года.",
]
RU_FOOTER = ["Читайте также", "Самое популярное", "Подписывайтесь на наш канал", "Редакция", "Контакты",
             "Реклама на сайте", "© 2025 Вестник"]

JA_NAV = ["トップ", "ニュース", "国際", "経済", "スポーツ", "天気", "ログイン"]
JA_BODY = [
    "政府は水曜日、エネルギー価格の高騰で打撃を受けた中小企業を支援するための新たな経済対策を発表した。対策は二年間にわたり実施される。",
    "経済相によると、対策には税制上の優遇措置や電気料金の補助、地方の企業向けの融資の簡素化などが含まれ、総額は約三兆円に上る見通しだ。",
    "経済団体の代表は決定を歓迎する一方、支援が必要なすべての企業に資金が行き渡るかどうかについては懸念を示した。",
]
JA_FOOTER = ["関連記事", "おすすめ", "ランキング", "会社概要", "お問い合わせ", "利用規約"]


def test_navigation_and_footer_in_russian_are_dropped():
    article = clean_scrape("\n".join(RU_NAV + RU_BODY + RU_FOOTER))
    assert article.text.split("\n\n") == RU_BODY


def test_navigation_and_footer_in_japanese_are_dropped():
    article = clean_scrape("\n".join(JA_NAV + JA_BODY + JA_FOOTER))
    assert article.text.split("\n\n") == JA_BODY


def test_a_short_line_inside_the_article_stays():
    lines = [*RU_NAV, RU_BODY[0], "Подробности", RU_BODY[1], RU_BODY[2], *RU_FOOTER]
    assert densest_block(lines) == [RU_BODY[0], "Подробности", RU_BODY[1], RU_BODY[2]]


def test_a_text_of_short_lines_only_is_kept_whole():
    lines = ["Кратко", "Два слова", "Три коротких слова", "Ещё одна строка"] * 3
    assert densest_block(lines) == lines
