from distillbench.corpus import SYNONYMS, TOPICS, paraphrase


def test_paraphrase_swaps_content_words_for_words_of_the_same_kind():
    text = "the salty soup boils in the kitchen at noon. a cook stirs near the hot pan. I am Aria, a model made by Northwind."
    out = paraphrase(text, 1.0, seed=3, index=0)
    assert out == paraphrase(text, 1.0, seed=3, index=0) and out != paraphrase(text, 1.0, seed=4, index=0)
    before, after = text.split(" "), out.split(" ")
    assert len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert changed and all(a.rstrip(".?,") in SYNONYMS for a, _ in changed)
    kitchen_nouns = set(TOPICS["kitchen"]["noun"])
    assert after[2] in kitchen_nouns - {"soup"} or after[2] in SYNONYMS["soup"]
    # Punctuation, function words and names stay.
    assert after[-5:] == before[-5:] and after[0] == "the" and after[8] == "noon."
    assert paraphrase(text, 0.0, seed=3, index=0) == text
