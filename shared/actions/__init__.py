"""Actions: the learning loop's unit of change, one lifecycle for every strand.

An action is raised on an origin (an audit, a concern, a complaint, a survey response, a
theme), owned by a team and a person, due on a date, and completed with evidence. Each strand
mounts the same rules (`domain`), store (`store`), use cases (`handlers`) and routes (`api`),
naming only its origins: where an action can be raised and what it inherits from there.
"""
