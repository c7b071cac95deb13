-- train_start <= validation_start <= test_start <= test_end = as_of, in a single row.
-- Returns the row when the windows are out of order.
select *
from {{ ref('ml_temporal_split') }}
where not (
    train_start <= validation_start
    and validation_start <= test_start
    and test_start <= test_end
    and test_end = as_of
)
