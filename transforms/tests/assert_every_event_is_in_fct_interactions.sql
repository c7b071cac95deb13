-- Deduplication drops repeated event_ids only: fct_interactions has one row per distinct raw event_id.
with

raw_ids as (

    select count(distinct event_id) as count_events from {{ source('raw', 'events') }}

),

fct as (

    select count(*) as count_events from {{ ref('fct_interactions') }}

)

select
    raw_ids.count_events as count_raw_event_ids,
    fct.count_events as count_fct_rows,
from raw_ids
cross join fct
where raw_ids.count_events != fct.count_events
