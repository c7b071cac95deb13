"""The traffic simulator: visitors with the synthetic store's hidden tastes react to the real
service's answers (behaviour.py: click, cart and purchase probabilities by taste, price and
position) and post their events over HTTP (traffic.py, `tailor simulate-traffic`). The true lift
of personalization over control is known from those probabilities, so experiment statistics can
be checked against it (docs/benchmarks/experiments_benchmark.py)."""
