-- Seed survey: foster carers' experience (issue 14, item 8; CONTRACT.md §4: respondent
-- `foster_carer`), version 1, beside the seeded surveys of 002. Later versions are published
-- over HTTP (PUT /v1/surveys/{survey_id}); this file never changes.

INSERT INTO {schema}.surveys (survey_id, version, title, service_area, respondents, published_at, published_by)
VALUES
    ('foster-carer-experience', 1, 'Fostering: foster carers'' experience of our support', 'fostering',
     ARRAY['foster_carer'], '2022-04-01T00:00:00+01:00', 'seed');

INSERT INTO {schema}.survey_questions
    (survey_id, version, position, question_id, wording, answer_type, safeguarding, reported_as)
VALUES
    ('foster-carer-experience', 1, 1, 'supervising_social_worker_support',
     'My supervising social worker gives me the support I need', 'scale_1_5', false,
     'supervising_social_worker_support'),
    ('foster-carer-experience', 1, 2, 'told_about_child_before_placement',
     'I was told what I needed to know about the child before they came to live with me', 'yes_no', false,
     'told_about_child_before_placement'),
    ('foster-carer-experience', 1, 3, 'training_helps_me_care',
     'The training I am offered helps me care for the children I look after', 'scale_1_5', false,
     'training_helps_me_care'),
    ('foster-carer-experience', 1, 4, 'help_out_of_hours',
     'I can get help out of hours when I need it', 'yes_no', false, 'help_out_of_hours'),
    ('foster-carer-experience', 1, 5, 'treated_as_part_of_team',
     'I am treated as part of the team around the child', 'scale_1_5', false, 'treated_as_part_of_team'),
    ('foster-carer-experience', 1, 6, 'anything_else',
     'Is there anything else you would like to tell us?', 'free_text', false, 'anything_else');
