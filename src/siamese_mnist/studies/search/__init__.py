"""`python -m siamese_mnist search`: the equal-budget search on validation, run as DVC experiments.

``search.yaml`` states the space, the number of trials, the rungs (successive halving) and the selection
metric. A trial is one experiment that trains every model, each with its own draw (trial 3's CNN, Siamese and
triplet settings are independent draws from the same ranges), so every model gets the same trials, epochs
and rule by construction:

    python -m siamese_mnist search queue             # rung 0: one `dvc exp run --queue -n search-r0-tNN -S ...` a trial
    SIAMESE_MNIST_THREADS=1 dvc queue start -j 2     # `dvc queue status` until every task is done
    python -m siamese_mnist search select --write    # -> metrics/search.json, metrics/search.md: the ranking
    python -m siamese_mnist search queue --rung 1    # each model's best `keep` of rung 0, for rung 1's epochs
    SIAMESE_MNIST_THREADS=1 dvc queue start -j 2
    python -m siamese_mnist search select --write    # the winners: the last rung's best on validation
    python -m siamese_mnist search apply             # the winners into params.yaml, each line saying its trial

Selection reads validation figures only (the ``val`` block of ``metrics/<model>.json``), at a rung's final
epoch; the test figures the same files hold are never read (tests/studies/test_search_selection.py scrambles them). ``queue``
skips trials that finished (an experiment of that name, of any baseline) or wait in the queue, so after a
stop the same command queues only what is missing. Several machines sharing a git and a DVC remote each take a
share (``--share 1/2``, ``--share 2/2``), push (``dvc exp push origin -A --run-cache``), and whoever selects
pulls them first (``dvc exp pull origin -A``); ``select`` reads every experiment it finds, of any baseline.

Modules: ``spec`` (search.yaml checked, each trial's draws and `-S` arguments), ``trials`` (finished trials
read back from experiments or from the committed report; failures recorded), ``selection`` (ranking on
validation, metrics/search.json and .md), ``apply`` (the winners into params.yaml), ``cli`` (the command).
"""
