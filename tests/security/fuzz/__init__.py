"""Bad input, generated (hypothesis): random and malformed values, huge strings, wrong types,
unknown ids, malformed JSON, a missing CSRF token and wrong methods, against every form and API
endpoint. The answer is never a 5xx; a refusal is a 4xx that says what is wrong (an ``error``
message in JSON, or the form page again), and a refused request changes nothing.
"""
