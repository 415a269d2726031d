"""The paper's prompt template, tokenised piecewise so each item's text is tokenised once.

User text: instruction + " In chronological order, the user has browsed the following
items:" + " >> 1. <item text> >> 2. ..." over the last `history` items. An item's text is the
same template with a one-item history. Token ids are the concatenation of separately
tokenised pieces (no special tokens); this can differ from tokenising the joined string at a
piece boundary, which is harmless because the model only ever sees this form. No special
tokens also means no `<bos>`, which Gemma's tokenizer would add and Gemma was trained with
(README, Backbones: it changes Gemma's states); adding it would change the prompt under an
unchanged run key, so it would be a setting of its own.

Templates (paper Table 6): `full`; `no_single_token` drops "into a single token";
`no_instruction` keeps only the history list.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.errors import unknown

INSTRUCTIONS = {
    "full": "You are an intelligent recommendation assistant. Please summarize the user's characteristics into a single token based on the browsing history.",
    "no_single_token": "You are an intelligent recommendation assistant. Please summarize the user's characteristics based on the browsing history.",
    "no_instruction": "",
}
HISTORY_LEAD = " In chronological order, the user has browsed the following items:"


class PromptBuilder:
    def __init__(self, tokenizer, item_text: Sequence[str], template: str = "full", history: int = 10) -> None:
        if template not in INSTRUCTIONS:
            raise unknown("template", template, INSTRUCTIONS)
        self.history = history
        self.blank_history = False  # the `text_blank` probe: user prompts without history titles
        head = (INSTRUCTIONS[template] + HISTORY_LEAD).strip()
        encode = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
        self.head = encode(head)
        self.markers = [encode(f" >> {k}.") for k in range(1, history + 1)]
        self.items = [[]] + [encode(" " + t) for t in item_text[1:]]

    def user_ids(self, history: Sequence[int]) -> list[int]:
        ids = list(self.head)
        if self.blank_history:
            return ids
        for pos, item in enumerate(list(history)[-self.history :]):
            ids += self.markers[pos] + self.items[item]
        return ids

    def item_ids(self, item: int) -> list[int]:
        return self.user_ids([item])
