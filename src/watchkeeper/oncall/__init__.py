"""On-call: schedules (who answers when) and escalation policies (who hears, in which order).

A package of its own, after `incidents/` and before `notify/` on the data path: it reads
open incidents through a small seam (`incidents.IncidentSource`) and produces outbox rows;
it is neither an incident concern (it never changes an incident) nor a channel (it never
sends). Schedules and policies are plain validated documents; `worker.EscalationWorker`
is the timer that walks each incident up its policy's levels.
"""
