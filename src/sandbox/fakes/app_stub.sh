# An application's executable: opening it is only recorded.
exit 0
