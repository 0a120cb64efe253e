-- Seed surveys, version 1 (DOMAIN.md "Feedback and compliments"). Later versions are
-- published over HTTP (PUT /v1/surveys/{survey_id}); this file never changes.

INSERT INTO {schema}.surveys (survey_id, version, title, service_area, respondents, published_at, published_by)
VALUES
    ('send-family-experience', 1, 'SEND: your experience of our service', 'send',
     ARRAY['parent_carer', 'young_person'], '2022-04-01T00:00:00+01:00', 'seed'),
    ('csc-children-young-people', 1, 'Children''s social care: what children and young people tell us',
     'childrens_social_care', ARRAY['child', 'young_person'], '2022-04-01T00:00:00+01:00', 'seed');

INSERT INTO {schema}.survey_questions
    (survey_id, version, position, question_id, wording, answer_type, safeguarding, reported_as)
VALUES
    ('send-family-experience', 1, 1, 'easy_to_contact_case_worker',
     'It was easy to contact my case worker', 'yes_no', false, 'easy_to_contact_case_worker'),
    ('send-family-experience', 1, 2, 'kept_informed',
     'I was kept informed about what was happening', 'scale_1_5', false, 'kept_informed'),
    ('send-family-experience', 1, 3, 'views_reflected_in_plan',
     'The EHC plan reflects what matters to my child and our family', 'scale_1_5', false,
     'views_reflected_in_plan'),
    ('send-family-experience', 1, 4, 'anything_else',
     'Is there anything else you would like to tell us?', 'free_text', false, 'anything_else'),
    ('csc-children-young-people', 1, 1, 'feel_safe_where_i_live',
     'I feel safe where I live', 'yes_no', true, 'feel_safe_where_i_live'),
    ('csc-children-young-people', 1, 2, 'worker_listens_to_me',
     'My social worker listens to me', 'scale_1_5', false, 'worker_listens_to_me'),
    ('csc-children-young-people', 1, 3, 'know_how_to_complain',
     'I know how to complain if I am unhappy', 'yes_no', false, 'know_how_to_complain'),
    ('csc-children-young-people', 1, 4, 'anything_else',
     'Is there anything else you want to tell us?', 'free_text', false, 'anything_else');
