"""Worked solutions to the lessons' exercises: `solutions/exNN.py` answers lesson NN's.

Each module explains its answers in its docstring and comments, and ends with two
tables the test suite reads (tests/test_exercises.py):

    SOLUTIONS = {"check_name": answer, ...}   # every check of exercises/exNN.py, answered
    WRONG = {"check_name": wrong_answer, ...} # a plausible mistake each check must refuse

Try the exercise before you read its solution.
"""
