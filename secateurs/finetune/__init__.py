"""Recovery fine-tuning after pruning: secateurs' own loop (``loop``, on ``data``) or a user's
function (``custom``). Unstructured zeros stay zeros; nothing is left on the model afterwards
(no masks, hooks, ``_orig`` copies or parametrizations)."""
