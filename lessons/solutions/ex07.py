"""Worked solutions to lesson 07's exercises (test-time compute on pointer chasing).

1. Fillers for plt-3 at 3 hops. Under CLP loop l at position t reads loop l-1 at t-1,
   so the residual path to an answer runs down the diagonal, one position to the left
   per loop. The answer is predicted at the last position before it. Loop 1 of the
   question's position follows the first pointer; loop 2 of the next position (a
   filler) reads what it found and follows the second; loop 3 of the position after
   that (a second filler) follows the third. Three hops: the question and two fillers,
   so 2 fillers, and 3 loops are enough. In general n hops need n - 1 fillers and at
   least n loops; the project gives a CLP row with L loops L - 1 fillers
   (experiments.fillers_for).

2. follow(prompt): the prompt is "<hops>:<table>|<questions>". Each character of the
   table is one pointer, data.PointerTask.unpointer(c) = (source, target); make a dict
   and follow it `hops` times from each question.

3. loop-2 with one loop: the same one-block stack run once, which is vanilla's
   architecture (model.Config.family is 'vanilla' when n_loops = 1). The weights are
   loop-2's, trained to be run twice: run once, its residual stream stops after the
   look-up that loop 2 was meant to continue, which is why it need not match the vanilla
   model trained for one pass even at 1 hop.

4. Doubling with 4 blocks: block 1 follows one pointer from the question while the
   pointer tokens build two-hop pointers; block 2 follows a two-hop pointer, block 3 a
   four-hop one (built from two two-hop ones), block 4 an eight-hop one:
   1 + 2 + 4 + 8 = 15 = 2^4 - 1 hops.
"""
from minplt import data


def follow(prompt):
    head, questions = prompt.split("|")
    hops, table = head.split(":")
    pointer = dict(data.PointerTask.unpointer(c) for c in table)
    answers = []
    for letter in questions:
        for _ in range(int(hops)):
            letter = pointer[letter]
        answers.append(letter)
    return "".join(answers)


def follow_one_hop_too_few(prompt):
    """A plausible mistake: follows the pointers one time fewer than asked."""
    head, questions = prompt.split("|")
    hops, table = head.split(":")
    pointer = dict(data.PointerTask.unpointer(c) for c in table)
    answers = []
    for letter in questions:
        for _ in range(int(hops) - 1):
            letter = pointer[letter]
        answers.append(letter)
    return "".join(answers)


SOLUTIONS = {
    "check_fillers_needed": 2,
    "check_follow": follow,
    "check_one_loop": "vanilla",
    "check_doubling": 15,
}

WRONG = {
    "check_fillers_needed": 3,          # one per hop: the question's position does one itself
    "check_follow": follow_one_hop_too_few,
    "check_one_loop": "loop-2",
    "check_doubling": 4,                # one hop per block: forgets the doubling
}
