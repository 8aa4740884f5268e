"""Built-in data for minplt: synthetic tasks where depth matters, and (from text.py,
re-exported here) the character tokenizer and small text corpora. Nothing is
downloaded unless you ask for it. Import every data source from here.

Reading order: Task (the batching and scoring every task shares) -> MultiHopTask,
AdditionTask, ParityTask, SortTask, PointerTask -> make_task -> make_data (a name ->
a task or a text; 'stdlib' is the standard library's source, corpus.py) and data_spec
(its description and fingerprint, for checkpoints).

Shapes: B = batch, T = time (length of x and y), V = vocab.

Both kinds of data source answer the same call,

    x, y, answer_mask = data.get_batch(split, batch_size, rng)   # (B,T), (B,T), (B,T) or None

with y[:, t] the token that follows x[:, t], and y == IGNORE (-1) where there is no
target to learn (the loss skips those positions).

Randomness: every random choice draws from an np.random.Generator passed in by the
caller, never from global state. A training run can therefore save
`rng.bit_generator.state` in its checkpoint and resume the very same stream of batches.
"""

from __future__ import annotations

import functools
import hashlib
import string
import zlib

import numpy as np

from minplt.text import (IGNORE, SHAKESPEARE_FILE, SHAKESPEARE_URL, SPLITS,  # noqa: F401
                         TEXT_SOURCES,
                         CharTokenizer, DownloadError, TextDataset, _check_int, check_split,
                         default_cache_dir, load_text)



# -----------------------------------------------------------------------------
# Synthetic tasks
#
# Each example is one line of text, `prompt + answer`, padded on the right with PAD to
# the task's seq_len. The model reads x = line[:-1] and predicts y = line[1:], so
# T = seq_len - 1. Every task of one kind has a fixed alphabet (it does not depend on
# the seed or on the task's size arguments), so its vocabulary is known in advance.

PAD = "."
VAL_EVERY = 10  # one prompt in VAL_EVERY (by hash) belongs to the validation split
_MAX_TRIES = 1000  # resampling budget of Task.sample; missing a 10% split 1000 times ~ 1e-46


def split_of(prompt: str) -> str:
    """'val' or 'train', decided by a stable hash of the prompt.

    A prompt always lands in the same split (on every machine, in every run), so no
    validation question is ever seen in training. zlib.crc32 is used rather than
    Python's hash(), which is salted differently in every process.
    """
    return "val" if zlib.crc32(prompt.encode("utf-8")) % VAL_EVERY == 0 else "train"


def exact_match(logits: np.ndarray, y: np.ndarray, answer_mask: np.ndarray) -> np.ndarray:
    """(B,) bool: True where the argmax prediction is right at every answer position.

    This is teacher-forced, but it equals greedy generation of the answer: if every
    answer token is the argmax given the correct tokens before it, greedy decoding
    produces exactly those tokens. Mistakes outside the answer do not count.
    """
    logits, y, answer_mask = np.asarray(logits), np.asarray(y), np.asarray(answer_mask, dtype=bool)
    if logits.ndim != 3 or y.shape != logits.shape[:2] or answer_mask.shape != y.shape:
        raise ValueError(
            f"exact_match expects logits (B,T,V), y (B,T), answer_mask (B,T); got "
            f"{logits.shape}, {y.shape}, {answer_mask.shape}"
        )
    prediction = logits.argmax(axis=-1)  # (B,T,V) -> (B,T)
    correct = (prediction == y) | ~answer_mask  # (B,T): non-answer positions always pass
    return correct.all(axis=1)  # (B,)


def answer_token_accuracy(logits: np.ndarray, y: np.ndarray, answer_mask: np.ndarray) -> float:
    """Fraction of answer tokens whose argmax prediction is right (teacher-forced).

    For a task with several one-letter answers per line (PointerTask) this is the
    fraction of questions answered right, a gentler measure than exact_match, which
    needs every answer of the line.
    """
    exact_match(logits, y, answer_mask)  # the same shape checks
    answer_mask = np.asarray(answer_mask, dtype=bool)
    if not answer_mask.any():
        raise ValueError("answer_token_accuracy needs at least one answer position in answer_mask")
    prediction = np.asarray(logits).argmax(axis=-1)  # (B,T,V) -> (B,T)
    return float((prediction == np.asarray(y))[answer_mask].mean())


class Task:
    """What every synthetic task shares: splitting, batching and scoring.

    A subclass sets `name` and `alphabet` (every character its lines may contain, PAD
    excepted), and defines `example(rng)` (one random (prompt, answer) pair), `solve(prompt)`
    (the answer, worked out from the prompt text alone) and `config()` (its arguments).
    """

    name = "task"
    alphabet = ""

    def __init__(self, line_len: int, answer_len: int, seq_len: int | None = None, loss_on: str = "all"):
        # line_len: the length of prompt + answer for this task's arguments
        if seq_len is None:
            seq_len = line_len
        seq_len = _check_int("seq_len", seq_len, 2)
        if seq_len < line_len:
            raise ValueError(f"seq_len={seq_len} is too short for {self.name} lines of {line_len} characters")
        if loss_on not in ("all", "answer"):
            raise ValueError(f"loss_on must be 'all' (every non-pad target) or 'answer' (answer targets only), got {loss_on!r}")
        self.seq_len = seq_len  # length of every padded line; x and y are one shorter
        # Every answer of a task has the same length, so there is no end-of-answer token:
        # to generate an answer, feed the prompt and decode answer_len tokens greedily.
        self.answer_len = answer_len
        self.loss_on = loss_on
        self.tokenizer = CharTokenizer(self.alphabet + PAD)

    # --- what each task defines -------------------------------------------------

    def example(self, rng: np.random.Generator) -> tuple[str, str]:
        """One random (prompt, answer) pair, from either split."""
        raise NotImplementedError

    def solve(self, prompt: str) -> str:
        """The correct answer to `prompt`, worked out from the text alone."""
        raise NotImplementedError

    def config(self) -> dict:
        """Arguments that rebuild this task: make_task(task.name, **task.config())."""
        return {"seq_len": self.seq_len, "loss_on": self.loss_on}

    def at_step(self, step: int, total_steps: int) -> "Task":
        """The task that training step `step` draws its batch from: this one (a task with
        a curriculum, such as PointerTask's stages, changes over the steps)."""
        return self

    # --- shared ----------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    @property
    def block_size(self) -> int:
        """T, the length of x and y (the same attribute as TextDataset.block_size)."""
        return self.seq_len - 1

    def sample(self, split: str, rng: np.random.Generator) -> tuple[str, str]:
        """One random (prompt, answer) pair from `split`: draw until one falls in it."""
        _check_split(split)
        for _ in range(_MAX_TRIES):
            prompt, answer = self.example(rng)
            if split_of(prompt) == split:
                return prompt, answer
        raise RuntimeError(
            f"drew {_MAX_TRIES} {self.name} examples and none fell in the {split!r} split; "
            f"the task is too small to split (make it larger, e.g. more bits or digits)"
        )

    def layout(self, prompt: str, answer: str) -> tuple[str, list[int]]:
        """The line the model reads, and the positions of the answer's characters in it.

        Most tasks write the answer after the prompt. A task that asks several questions
        in one line (PointerTask) overrides this to put each answer right after its
        question, so every answer is a target of its own.
        """
        return prompt + answer, list(range(len(prompt), len(prompt) + len(answer)))

    def encode_line(self, prompt: str, answer: str) -> np.ndarray:
        """(seq_len,) token ids of the line of `prompt` and `answer` (see layout), padded
        with PAD on the right."""
        line, _ = self.layout(prompt, answer)
        if len(line) > self.seq_len:
            raise ValueError(f"line {line!r} is longer than seq_len={self.seq_len}")
        return self.tokenizer.encode(line + PAD * (self.seq_len - len(line)))

    def get_batch(self, split: str, batch_size: int, rng: np.random.Generator):
        """A batch of fresh random examples from `split`.

        Returns x (B,T) int64 input tokens; y (B,T) int64 targets, y[:, t] = token t+1 of
        the padded line, IGNORE at padding (and at prompt targets when loss_on='answer');
        answer_mask (B,T) bool, True exactly where y[:, t] is an answer token.
        """
        _check_split(split)
        batch_size = _check_int("batch_size", batch_size, 1)
        T = self.seq_len - 1
        x = np.empty((batch_size, T), dtype=np.int64)
        y = np.full((batch_size, T), IGNORE, dtype=np.int64)
        answer_mask = np.zeros((batch_size, T), dtype=bool)
        for b in range(batch_size):
            prompt, answer = self.sample(split, rng)
            text, positions = self.layout(prompt, answer)
            line = self.encode_line(prompt, answer)  # (seq_len,)
            x[b] = line[:-1]
            # Position t predicts token t+1, so an answer token at line position p is the
            # target at t = p-1. With the answer after the prompt (P = len(prompt),
            # E = len(prompt + answer)) those are t = P-1 .. E-2. Targets from E-1 on
            # are padding and stay IGNORE.
            targets = np.asarray(positions) - 1  # (answer_len,)
            if self.loss_on == "all":
                y[b, : len(text) - 1] = line[1 : len(text)]
            else:
                y[b, targets] = line[targets + 1]
            answer_mask[b, targets] = True
        return x, y, answer_mask

    def exact_match(self, logits, y, answer_mask) -> np.ndarray:
        """(B,) bool, see the module-level exact_match."""
        return exact_match(logits, y, answer_mask)

    def accuracy(self, logits, y, answer_mask) -> float:
        """Fraction of the batch whose whole answer is predicted right."""
        return float(exact_match(logits, y, answer_mask).mean())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


_check_split = check_split


class MultiHopTask(Task):
    """Follow a chain of variable bindings; the answer needs `hops` look-ups.

        a=7;b=a;c=b;c?  ->  7                      hops=3, distractors=0
        k=3;c=b;q=k;b=a;z=q;a=7;c?  ->  7          hops=3, distractors=1, shuffled

    A chain binds its first variable to a digit and each next variable to the one
    before; the question asks for the value of the chain's last variable. Distractor
    chains of the same length, with other variables and values, are mixed in, and all
    bindings are shuffled, so neither position nor chain length gives the answer away.
    Every variable is bound exactly once, so the answer is always well defined. With
    the bindings in random order, a causal model reading the question has to resolve
    one hop after another, which is what extra depth (or extra loops) can buy.

    Default (hops=3, distractors=2): 9 bindings, seq_len 39, vocab 40
    (a-z, 0-9, '=', ';', '?', PAD).
    """

    name = "multihop"
    alphabet = string.ascii_lowercase + string.digits + "=;?"

    def __init__(self, hops: int = 3, distractors: int = 2, n_vars: int = 26,
                 seq_len: int | None = None, loss_on: str = "all"):
        self.hops = _check_int("hops", hops, 1)
        self.distractors = _check_int("distractors", distractors, 0)
        # variable names are the first n_vars letters
        self.n_vars = _check_int("n_vars", n_vars, 1, len(string.ascii_lowercase))
        n_bindings = self.hops * (1 + self.distractors)
        if n_bindings > self.n_vars:
            raise ValueError(
                f"hops * (1 + distractors) = {n_bindings} variables are needed but only "
                f"n_vars={self.n_vars} exist (at most 26); use fewer hops or distractors"
            )
        # "x=y;" per binding, then "q?" and the one-digit answer
        super().__init__(4 * n_bindings + 3, 1, seq_len, loss_on)

    def config(self) -> dict:
        return {"hops": self.hops, "distractors": self.distractors, "n_vars": self.n_vars, **super().config()}

    def example(self, rng: np.random.Generator) -> tuple[str, str]:
        n_chains = 1 + self.distractors  # chain 0 is the one asked about
        letters = rng.choice(self.n_vars, size=n_chains * self.hops, replace=False)  # all distinct
        names = [string.ascii_lowercase[i] for i in letters]
        values = rng.integers(0, 10, size=n_chains)  # the digit each chain starts from
        bindings = []
        for c in range(n_chains):
            chain = names[c * self.hops : (c + 1) * self.hops]
            bindings.append(f"{chain[0]}={values[c]}")
            bindings += [f"{var}={prev}" for prev, var in zip(chain, chain[1:])]
        order = rng.permutation(len(bindings))
        question = names[self.hops - 1]  # last variable of chain 0
        prompt = ";".join(bindings[i] for i in order) + f";{question}?"
        return prompt, str(values[0])

    def solve(self, prompt: str) -> str:
        *bindings, question = prompt.rstrip("?").split(";")
        value_of = dict(b.split("=") for b in bindings)
        name = question
        for _ in range(len(value_of)):  # a chain is never longer than the bindings
            name = value_of[name]
            if name.isdigit():
                return name
        raise ValueError(f"the bindings in {prompt!r} form a cycle")


class AdditionTask(Task):
    """Add two `digits`-digit numbers; the sum is written backwards.

        123+989=  ->  2111     (123 + 989 = 1112, written least significant digit first)
        007+040=  ->  7400     (operands zero-padded to `digits`, the sum to digits + 1)

    Why backwards: a causal model writes the answer one digit at a time. The lowest
    digit of a sum depends only on the lowest digits of the operands, and each next
    digit only on its two operand digits and the carry from the digit just written.
    Written the usual way round, the very first digit would need the whole carry chain
    at once. Zero-padding puts every digit at a fixed position. Pass
    reverse_answer=False for the usual order (a harder task).

    Default (digits=3): seq_len 12, vocab 13 (0-9, '+', '=', PAD).
    """

    name = "addition"
    alphabet = string.digits + "+="

    def __init__(self, digits: int = 3, reverse_answer: bool = True,
                 seq_len: int | None = None, loss_on: str = "all"):
        self.digits = _check_int("digits", digits, 1)
        if not isinstance(reverse_answer, bool):
            raise ValueError(f"reverse_answer must be True or False, got {reverse_answer!r}")
        self.reverse_answer = reverse_answer
        # "aaa+bbb=" and a sum of digits + 1 digits
        super().__init__(3 * self.digits + 3, self.digits + 1, seq_len, loss_on)

    def config(self) -> dict:
        return {"digits": self.digits, "reverse_answer": self.reverse_answer, **super().config()}

    def _answer(self, a: int, b: int) -> str:
        total = f"{a + b:0{self.digits + 1}d}"
        return total[::-1] if self.reverse_answer else total

    def example(self, rng: np.random.Generator) -> tuple[str, str]:
        # digit by digit, so any number of digits works (no int64 overflow)
        a, b = ("".join(map(str, rng.integers(0, 10, size=self.digits))) for _ in range(2))
        return f"{a}+{b}=", self._answer(int(a), int(b))

    def solve(self, prompt: str) -> str:
        a, b = prompt.rstrip("=").split("+")
        return self._answer(int(a), int(b))


class ParityTask(Task):
    """Is the number of 1s odd? Answer '1' if odd, '0' if even.

        10110?  ->  1          (three 1s)
        0110000011?  ->  0     (four 1s)

    Parity needs every bit, and flipping any one bit flips the answer, so there is no
    shortcut through a few positions. There are only 2**bits prompts: small `bits`
    can be memorised, so watch the validation split.

    Default (bits=10): seq_len 12, vocab 4 ('0', '1', '?', PAD).
    """

    name = "parity"
    alphabet = "01?"

    def __init__(self, bits: int = 10, seq_len: int | None = None, loss_on: str = "all"):
        self.bits = _check_int("bits", bits, 1)
        super().__init__(self.bits + 2, 1, seq_len, loss_on)

    def config(self) -> dict:
        return {"bits": self.bits, **super().config()}

    def example(self, rng: np.random.Generator) -> tuple[str, str]:
        bits = rng.integers(0, 2, size=self.bits)
        return "".join(map(str, bits)) + "?", str(int(bits.sum()) % 2)

    def solve(self, prompt: str) -> str:
        return str(prompt.count("1") % 2)


class SortTask(Task):
    """Sort `length` letters (repeats allowed) into alphabetical order.

        dbca=  ->  abcd
        hcahfe=  ->  acefhh

    Letters come from the first `n_symbols` letters of the alphabet. Each output letter
    depends on the whole input: "the smallest letter not yet written".

    Default (length=6): seq_len 13, vocab 28 (a-z, '=', PAD).
    """

    name = "sort"
    alphabet = string.ascii_lowercase + "="

    def __init__(self, length: int = 6, n_symbols: int = 26,
                 seq_len: int | None = None, loss_on: str = "all"):
        self.length = _check_int("length", length, 1)
        self.n_symbols = _check_int("n_symbols", n_symbols, 2, len(string.ascii_lowercase))
        super().__init__(2 * self.length + 1, self.length, seq_len, loss_on)

    def config(self) -> dict:
        return {"length": self.length, "n_symbols": self.n_symbols, **super().config()}

    def example(self, rng: np.random.Generator) -> tuple[str, str]:
        letters = rng.integers(0, self.n_symbols, size=self.length)  # as ids 0..n_symbols-1
        prompt = "".join(string.ascii_lowercase[i] for i in letters) + "="
        answer = "".join(string.ascii_lowercase[i] for i in np.sort(letters))
        return prompt, answer

    def solve(self, prompt: str) -> str:
        return "".join(sorted(prompt.rstrip("=")))


class PointerTask(Task):
    """Follow pointers `hops` times around a cycle; several questions per line.

    Each of `nodes` letters points to one other letter, and following the pointers
    visits every letter once before coming back (one random cycle). The table of
    pointers comes first, one token per pointer, in random order; then `queries`
    questions, each a letter whose answer is the letter `hops` pointers further on:

        2:āēĲĤŀ|bed  ->  cbe          nodes=5, queries=3, hops=2
        the line the model reads:  2:āēĲĤŀ|bcebde

    Here ā is the pointer a -> b, ē is b -> d, Ĳ is d -> c, Ĥ is c -> e and ŀ is e -> a,
    so two pointers on from b is c, from e is b, from d is e. `2:` states the number of
    hops. The character for x -> y is POINTER_CHARS[MAX_NODES * x + y] (pointer() and
    unpointer() translate). Because one position holds a whole pointer, one attention
    step can follow one pointer: a question of `hops` hops needs that many steps one
    after another, which is what depth or loops buy. A one-block transformer follows
    one pointer; for a second it would have to know where the first led before it can
    look up the next.

    Every answer is a target, so each line gives `queries` training signals: layout()
    writes each answer right after its question, after `think` filler characters '_'
    that give a model extra positions to work in (with think=1: 2:āēĲĤŀ|b_ce_bd_e).
    The questions are distinct letters, and the pointers come in random order, so
    neither position nor frequency gives an answer away. One thing a model can use
    without following two pointers: the answers of a line are distinct letters, and
    none is the question or its neighbours on the cycle; guessing among the rest
    scores about 18% per answer at the default size (chance alone: 1/9).

    With min_hops < hops, each line draws its number of hops from min_hops..hops (a
    mixture for training); the prefix says which. A curriculum, e.g. stages=(2, 3, 4)
    with hops=4, trains on min_hops..2 hops for the first third of the steps, ..3 for
    the second and ..4 for the last (at_step; the training loop asks for each step's).

    Generating an answer: feed the line up to a question (and its fillers) and take the
    argmax; then append that letter and the next question. exact_match scores a line
    right when all its answers are; answer_token_accuracy scores each answer.

    Default (hops=2, nodes=10, queries=5, think=0): seq_len 23, vocab 285 (a-p, 1-9,
    ':', '|', '_', 256 pointer characters, PAD).
    """

    name = "pointer"
    MAX_NODES = 16
    POINTER_CHARS = "".join(chr(0x100 + i) for i in range(MAX_NODES * MAX_NODES))
    alphabet = string.ascii_lowercase[:MAX_NODES] + string.digits[1:] + ":|_" + POINTER_CHARS

    def __init__(self, hops: int = 2, nodes: int = 10, queries: int = 5, think: int = 0,
                 min_hops: int | None = None, stages: tuple = (), seq_len: int | None = None,
                 loss_on: str = "all"):
        self.nodes = _check_int("nodes", nodes, 3, self.MAX_NODES)
        # fewer hops than nodes, so an answer is never the question itself
        self.hops = _check_int("hops", hops, 1, min(9, self.nodes - 1))
        self.min_hops = self.hops if min_hops is None else _check_int("min_hops", min_hops, 1, self.hops)
        self.stages = tuple(stages)
        for stage in self.stages:
            _check_int("a curriculum stage (stages)", stage, self.min_hops, self.hops)
        if self.stages and (list(self.stages) != sorted(self.stages) or self.stages[-1] != self.hops):
            raise ValueError(f"stages {self.stages} must rise to hops={self.hops}: the deepest "
                             "questions of each stage of training, e.g. (2, 3, 4) for hops=4")
        self.queries = _check_int("queries", queries, 1, self.nodes)
        self.think = _check_int("think", think, 0)
        # "k:", a pointer per node, "|", then per question: letter, fillers, answer
        super().__init__(3 + self.nodes + self.queries * (2 + self.think), self.queries,
                         seq_len, loss_on)

    def config(self) -> dict:
        stages = {"stages": list(self.stages)} if self.stages else {}
        return {"hops": self.hops, "nodes": self.nodes, "queries": self.queries,
                "think": self.think, "min_hops": self.min_hops, **stages, **super().config()}

    def with_hops(self, hops: int, min_hops: int | None = None) -> "PointerTask":
        """The same task with every line asking exactly `hops` hops (or min_hops..hops),
        padded to this task's seq_len: for scoring a model trained on a mixture at each
        depth, and for the stages of a curriculum."""
        return PointerTask(hops=hops, min_hops=hops if min_hops is None else min_hops,
                           nodes=self.nodes, queries=self.queries, think=self.think,
                           seq_len=self.seq_len, loss_on=self.loss_on)

    def at_step(self, step: int, total_steps: int) -> "PointerTask":
        """The task to draw training step `step` of `total_steps` from: this one, or with
        a curriculum the stage's (its deepest questions rise stage by stage)."""
        if not self.stages:
            return self
        stage = self.stages[min(len(self.stages) - 1, step * len(self.stages) // total_steps)]
        return self.with_hops(stage, min(self.min_hops, stage))

    @classmethod
    def pointer(cls, source: str, target: str) -> str:
        """The one character that stands for the pointer source -> target ('e', 'c')."""
        letters = string.ascii_lowercase
        return cls.POINTER_CHARS[cls.MAX_NODES * letters.index(source) + letters.index(target)]

    def gloss(self, prompt: str) -> str:
        """The table of a prompt in arrows, for people: 'a->c b->d ...' (sorted)."""
        table = prompt.split("|")[0].split(":")[1]
        return " ".join(sorted(f"{x}->{y}" for x, y in map(self.unpointer, table)))

    @classmethod
    def unpointer(cls, char: str) -> tuple[str, str]:
        """The inverse of pointer(): 'Ē' -> ('e', 'c')."""
        source, target = divmod(cls.POINTER_CHARS.index(char), cls.MAX_NODES)
        return string.ascii_lowercase[source], string.ascii_lowercase[target]

    def example(self, rng: np.random.Generator) -> tuple[str, str]:
        hops = int(rng.integers(self.min_hops, self.hops + 1))
        cycle = rng.permutation(self.nodes)  # node cycle[i] points to cycle[i + 1]
        following = np.empty(self.nodes, dtype=np.int64)
        following[cycle] = np.roll(cycle, -1)
        letters = string.ascii_lowercase
        table = "".join(self.pointer(letters[x], letters[following[x]])
                        for x in rng.permutation(self.nodes))
        asked = rng.choice(self.nodes, size=self.queries, replace=False)
        answers = asked
        for _ in range(hops):
            answers = following[answers]
        prompt = f"{hops}:{table}|" + "".join(letters[q] for q in asked)
        return prompt, "".join(letters[a] for a in answers)

    def solve(self, prompt: str) -> str:
        head, questions = prompt.split("|")
        hops, table = head.split(":")
        following = dict(self.unpointer(c) for c in table)
        answers = []
        for node in questions:
            for _ in range(int(hops)):
                node = following[node]
            answers.append(node)
        return "".join(answers)

    def layout(self, prompt: str, answer: str) -> tuple[str, list[int]]:
        """'2:<table>|dbfa' + 'hgce' -> '2:<table>|d_h b_g ...' (without spaces, think=1):
        each answer right after its question and `think` fillers."""
        head, questions = prompt.split("|")
        line, positions = head + "|", []
        for question, letter in zip(questions, answer):
            line += question + "_" * self.think
            positions.append(len(line))
            line += letter
        return line, positions


TASKS = {"multihop": MultiHopTask, "addition": AdditionTask, "parity": ParityTask, "sort": SortTask,
         "pointer": PointerTask}


def make_task(name: str, **kwargs) -> Task:
    """The task called `name`, built with `kwargs`: make_task('multihop', hops=4)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid names are: {', '.join(TASKS)}")
    return TASKS[name](**kwargs)


# -----------------------------------------------------------------------------
# Data sources by name, and a JSON description (with a fingerprint) for checkpoints

def make_data(name: str, block_size: int | None = None, hops: int | None = None,
              length: int | None = None, loss_on: str = "answer"):
    """'multihop' | 'addition' | 'parity' | 'sort' | 'pointer' -> a Task (hops: the
    look-ups of multihop and pointer, length: sort's letters; loss_on 'answer' or 'all'
    targets); 'pydoc' | 'shakespeare' | path/to/file.txt -> a TextDataset of windows
    of block_size characters (default 64); 'stdlib' -> the standard library's source,
    byte windows of block_size (default 128), split by file (corpus.py)."""
    for flag, value, owners in (("hops", hops, ("multihop", "pointer")),
                                ("length", length, ("sort",))):
        if value is not None and name not in owners:
            raise ValueError(f"--{flag} applies to the {' and '.join(owners)} "
                             f"task{'s' if len(owners) > 1 else ''} only, not to {name!r}")
    if name in TASKS:
        if block_size is not None:
            raise ValueError(f"--block-size sets the window of text data; the {name} task's "
                             "sequences have a fixed length: drop --block-size")
        kwargs = {key: value for key, value in (("hops", hops), ("length", length))
                  if value is not None}
        return make_task(name, loss_on=loss_on, **kwargs)
    if name == "stdlib":
        from minplt import corpus
        return corpus.stdlib_dataset(128 if block_size is None else block_size)
    return TextDataset(load_text(name), 64 if block_size is None else block_size)


def tokenizer_from_dict(d: dict):
    """The tokenizer a checkpoint describes: characters (CharTokenizer) or bytes
    (corpus.ByteTokenizer)."""
    if isinstance(d, dict) and d.get("kind") == "byte":
        from minplt.corpus import ByteTokenizer
        return ByteTokenizer()
    return CharTokenizer.from_dict(d)


@functools.lru_cache(maxsize=2)
def cached_text_data(source: str = "stdlib", block_size: int = 128):
    """make_data(source, block_size), built once per process: a corpus of 12 MB takes a
    second or two to read, and every run of an ablation trains on the same one."""
    return make_data(source, block_size)


def data_spec(data, source: str | None = None) -> dict:
    """A JSON description that rebuilds `data` (saved as meta['data'] in checkpoints),
    with its fingerprint: a task's settings, or the SHA-256 of a text's token ids (with
    the tokenizer's vocabulary, which is saved beside it, they fix the text exactly).
    Text datasets do not know their source: pass it ('pydoc', a path)."""
    if isinstance(data, Task):
        return {"kind": "task", "name": data.name, "kwargs": data.config()}
    if not isinstance(data, TextDataset):   # any object with get_batch, tokenizer,
        return {"kind": "custom", "name": type(data).__name__}   # block_size: no fingerprint
    digest = hashlib.sha256()
    for split in ("train", "val"):
        digest.update(np.ascontiguousarray(data.splits[split], dtype="<i8").tobytes())
    spec = {"kind": "text", "source": source or data.source, "block_size": data.block_size,
            "sha256": digest.hexdigest()}
    if data.info:           # the stdlib corpus: its Python version and file counts
        spec["corpus"] = dict(data.info)
    return spec


def data_from_spec(spec: dict):
    """The inverse of data_spec: the task or text dataset a checkpoint was trained on."""
    if spec.get("kind") == "task":
        return make_task(spec["name"], **spec.get("kwargs", {}))
    if spec.get("kind") == "text" and spec.get("source") == "stdlib":
        return make_data("stdlib", spec["block_size"])
    if spec.get("kind") == "text" and spec.get("source"):
        return TextDataset(load_text(spec["source"]), spec["block_size"])
    raise ValueError(f"cannot rebuild the data from its description {spec!r}")


def check_same_data(path: str, meta: dict, data, spec: dict) -> None:
    """Refuse to resume the checkpoint at `path` on data other than it was trained on."""
    saved, vocab = meta.get("data", {}), meta.get("tokenizer", {}).get("chars")
    advice = ("give the data it was trained on (--data), or start a new run with "
              "--overwrite")
    def describe(spec):
        kwargs = ", ".join(f"{k}={v}" for k, v in spec.get("kwargs", {}).items())
        if spec.get("kind") == "custom":
            return f"a {spec.get('name')} data source"
        return f"the {spec.get('name')} task ({kwargs})" if spec.get("kind") == "task" \
            else f"the text {spec.get('source')!r}"

    if saved.get("kind") != spec["kind"] or (spec["kind"] in ("task", "custom") and saved != spec):
        raise ValueError(f"cannot resume {path}: it was trained on {describe(saved)}, not "
                         f"on {describe(spec)}; {advice}")
    if spec["kind"] == "text":
        if saved.get("block_size") != spec["block_size"]:
            raise ValueError(f"cannot resume {path}: it was trained on windows of "
                             f"{saved.get('block_size')} characters, not {spec['block_size']}")
        if saved.get("sha256", spec["sha256"]) != spec["sha256"]:   # older files have none
            then, now = saved.get("corpus", {}), spec.get("corpus", {})
            which = (f" (Python {then.get('python')}, {then.get('files')} files then; Python "
                     f"{now.get('python')}, {now.get('files')} files now)") if then else ""
            raise ValueError(f"cannot resume {path}: the text {spec['source']} changed since "
                             f"the checkpoint was written{which} (SHA-256 "
                             f"{saved['sha256'][:12]}... then, {spec['sha256'][:12]}... now); "
                             f"{advice}")
    if vocab is not None and vocab != data.tokenizer.chars:
        gone, new = sorted(set(vocab) - set(data.tokenizer.chars)), \
            sorted(set(data.tokenizer.chars) - set(vocab))
        raise ValueError(f"cannot resume {path}: the data's vocabulary changed (characters "
                         f"no longer there: {''.join(gone)!r}, new: {''.join(new)!r}); {advice}")
