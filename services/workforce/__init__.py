"""The workforce strand (issue 15): staff records, vacancies, caseloads and the staff
health-check survey; publishes the workforce events of CONTRACT.md §4."""
